// The dynatroni command: forwards to cli::RunCli (cli/cli.h).
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  dynatroni::cli::CliHooks hooks;
  hooks.out_is_tty = isatty(STDOUT_FILENO) == 1;
  return dynatroni::cli::RunCli(args, std::cout, std::cerr, std::cin, dynatroni::dcs::ProcessEnvironment(),
                                hooks);
}
