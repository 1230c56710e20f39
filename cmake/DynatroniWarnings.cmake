# Single source of truth for compiler flags (warnings, sanitizers).
function(dynatroni_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough
    -Wcast-align -Wnull-dereference -Wformat=2)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 false positive inside std::string concatenation at -O3 (GCC bug 105651).
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(DYNATRONI_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(DYNATRONI_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()

# ThreadSanitizer (`make test-tsan`). A process has at most one of ASan and TSan.
if(DYNATRONI_TSAN)
  if(DYNATRONI_SANITIZE)
    message(FATAL_ERROR "DYNATRONI_TSAN and DYNATRONI_SANITIZE are mutually exclusive (ThreadSanitizer cannot run with AddressSanitizer)")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=thread)
endif()
