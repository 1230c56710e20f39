// Fuzz target: the `dynatroni` command line and the Patroni YAML it reads.
//
// Input: any bytes. Split at NUL bytes they are the arguments: ParseArgs, then
// (without reading any file) ResolveConfig against an empty environment, the
// usage text of whatever command was seen, and — for `cost`, the one command
// that needs no network — the whole RunCli. Whole, the bytes are the text of
// patroni.yml for ParsePatroniYaml. Nothing may crash; every error is one
// printable line; a command-line error exits 2 with one line on stderr.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.h"
#include "cli/options.h"
#include "fuzz/fuzz_common.h"

using namespace dynatroni;  // NOLINT(google-build-using-namespace)

namespace {
// ca_bundle must not make the fuzzer open arbitrary paths.
const cli::Env kEnv = {{"DYNATRONI_SKIP_CA_CHECK", "1"}};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  auto yaml = cli::ParsePatroniYaml(text, "patroni.yml");
  fuzz::CheckOneLine(yaml.status(), /*printable=*/true);

  std::vector<std::string> args;
  std::string_view rest(text);
  while (!rest.empty() && args.size() < 64) {
    const size_t nul = rest.find('\0');
    args.emplace_back(rest.substr(0, nul));
    rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  }

  std::vector<std::string> seen;
  auto opts = cli::ParseArgs(args, &seen);
  fuzz::CheckOneLine(opts.status(), /*printable=*/true);
  const std::string usage = cli::UsageFor(opts.ok() ? opts->command : seen);
  DYNATRONI_FUZZ_CHECK(!usage.empty() && usage.back() == '\n', "a usage text ends with a newline");
  if (!opts.ok()) return 0;

  cli::Options resolved_opts = *opts;
  resolved_opts.config_file.clear();  // never read files named by the input
  auto config = cli::ResolveConfig(resolved_opts, kEnv);
  fuzz::CheckOneLine(config.status(), /*printable=*/true);

  if (opts->command == std::vector<std::string>{"cost"} && opts->config_file.empty()) {
    std::ostringstream out;
    std::ostringstream err;
    std::istringstream in;
    const int rc = cli::RunCli(args, out, err, in, kEnv);
    DYNATRONI_FUZZ_CHECK(rc == 0 || rc == 2, "cost exits 0 or 2 (bad input), got " + std::to_string(rc));
    const std::string e = err.str();
    if (rc == 2) {
      DYNATRONI_FUZZ_CHECK(!e.empty() && e.find('\n') == e.size() - 1, "one line on stderr: " + e);
    }
  }
  return 0;
}
