#include "aws/providers/credential_process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

#include <openssl/crypto.h>

#include "aws/providers/util.h"

extern char** environ;

namespace dynatroni::aws {

using providers_internal::JsonCredentialFormat;
using providers_internal::ParseJsonCredentials;
using providers_internal::WipeString;

namespace {

struct Fd {
  int fd = -1;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// Waits for `pid` (blocking). Returns the wait status.
int Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

}  // namespace

Result<Credentials> RunCredentialProcess(const std::string& command, Deadline deadline,
                                         const CredentialProcessOptions& options, const std::string& what) {
  Clock& clock = options.clock != nullptr ? *options.clock : *SystemClock::Instance();
  if (command.empty()) return InvalidArgument(what + ": the command is empty");
  Duration budget = std::min(deadline.Remaining(clock), options.timeout);
  if (budget <= Duration::zero()) {
    return DeadlineExceeded(what + ": no time left in the deadline to run it");
  }

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return Unavailable(what + ": pipe() failed: " + std::strerror(errno));
  }
  Fd read_end{pipefd[0]};
  Fd write_end{pipefd[1]};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, STDOUT_FILENO);
  // Own process group, so a timeout can kill the shell and everything it started.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t default_signals;
  sigemptyset(&default_signals);
  sigaddset(&default_signals, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &default_signals);
  sigset_t no_mask;
  sigemptyset(&no_mask);
  posix_spawnattr_setsigmask(&attr, &no_mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::string cmd = command;
  char sh[] = "/bin/sh";
  char dash_c[] = "-c";
  char* argv[] = {sh, dash_c, cmd.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  WipeString(cmd);
  if (rc != 0) return Unavailable(what + ": could not start /bin/sh: " + std::strerror(rc));
  write_end.Close();

  // Real-time wait for a real process: measured on the system clock.
  Clock& real = *SystemClock::Instance();
  const MonoTime end = real.Now() + budget;
  std::string out;
  bool too_big = false;
  bool timed_out = false;
  char buf[4096];
  while (true) {
    Duration left = end - real.Now();
    if (left <= Duration::zero()) {
      timed_out = true;
      break;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1;
    pollfd p{read_end.fd, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1000)));
    if (pr < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pr == 0) continue;
    ssize_t n = ::read(read_end.fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    if (n == 0) break;  // EOF: the child (and everything holding stdout) is done writing
    if (out.size() + static_cast<size_t>(n) > options.max_output_bytes) {
      too_big = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  read_end.Close();
  if (timed_out || too_big) ::kill(-pid, SIGKILL);

  // After EOF the shell normally exits at once; bound that wait too.
  int status = 0;
  while (true) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (real.Now() >= end) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      status = Reap(pid);
      break;
    }
    real.SleepFor(std::chrono::milliseconds(2));
  }

  auto seconds = std::chrono::duration_cast<std::chrono::milliseconds>(budget).count() / 1000.0;
  if (timed_out) {
    WipeString(out);
    char b[32];
    std::snprintf(b, sizeof(b), "%.1f", seconds);
    return DeadlineExceeded(what + ": did not finish within " + b + " s and was killed");
  }
  if (too_big) {
    WipeString(out);
    return MalformedResponse(what + ": printed more than " + std::to_string(options.max_output_bytes) +
                             " bytes; killed");
  }
  if (WIFSIGNALED(status)) {
    WipeString(out);
    return Unavailable(what + ": killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    WipeString(out);
    return Unavailable(what + ": exited with status " + std::to_string(WEXITSTATUS(status)) +
                       " (its stderr went to this process's stderr)");
  }
  auto creds = ParseJsonCredentials(out, JsonCredentialFormat::kCredentialProcess, what, false);
  WipeString(out);
  return creds;
}

}  // namespace dynatroni::aws
