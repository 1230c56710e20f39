// The dynatroni command. Subcommands are implemented in cli/*.cc.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("dynatroni %s\n", DYNATRONI_VERSION);
    return 0;
  }
  std::fprintf(stderr, "usage: dynatroni --version\n");
  return 2;
}
