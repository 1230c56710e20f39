#include "http/ca_bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dynatroni::http {

bool IsReadableRegularFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  return regular;
}

std::string FindCaBundle(const Env& env, const std::function<bool(const std::string&)>& readable) {
  // Given on purpose: used as is, so that a wrong path fails the TLS handshake visibly rather than being
  // skipped.
  if (auto file = EnvValue(env, "SSL_CERT_FILE")) return *file;
  for (std::string_view candidate : kSystemCaBundles) {
    std::string path(candidate);
    if (readable(path)) return path;
  }
  return "";
}

}  // namespace dynatroni::http
