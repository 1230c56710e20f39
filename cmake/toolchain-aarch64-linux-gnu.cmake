# Cross-compiling for aarch64 (arm64, AWS Graviton) with clang and a static libc++ (issue #20 part 2;
# packaging/wheels/build-arm64.sh, docs/install.md "Portable wheels"). Debian bullseye's layout:
#   clang-16 (bullseye-security), which finds binutils-aarch64-linux-gnu and the glibc 2.31 sysroot
#   /usr/aarch64-linux-gnu of crossbuild-essential-arm64;
#   libc++-16-dev, libc++abi-16-dev and zlib1g-dev for arm64, unpacked with dpkg -x into DYNATRONI_AARCH64_ROOT
#   (multiarch :arm64 installs need libc6:arm64 at the host's libc6 version, which a mirror may not serve);
#   the static dependencies (OpenSSL, curl, yaml-cpp, GoogleTest, nlohmann) in DYNATRONI_AARCH64_PREFIX.
# Both directories can be given with -D or in the environment (so that try_compile and scikit-build-core see them).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

foreach(var DYNATRONI_AARCH64_ROOT DYNATRONI_AARCH64_PREFIX DYNATRONI_AARCH64_CLANG)
  if(NOT DEFINED ${var} AND DEFINED ENV{${var}})
    set(${var} "$ENV{${var}}")
  endif()
endforeach()
if(NOT DYNATRONI_AARCH64_ROOT)
  set(DYNATRONI_AARCH64_ROOT /opt/arm64-root)
endif()
if(NOT DYNATRONI_AARCH64_PREFIX)
  set(DYNATRONI_AARCH64_PREFIX /opt/dyn-deps-arm64)
endif()
if(NOT DYNATRONI_AARCH64_CLANG)
  set(DYNATRONI_AARCH64_CLANG 16)
endif()
# try_compile projects get these from the environment, not from the cache.
set(ENV{DYNATRONI_AARCH64_ROOT} "${DYNATRONI_AARCH64_ROOT}")
set(ENV{DYNATRONI_AARCH64_PREFIX} "${DYNATRONI_AARCH64_PREFIX}")
set(ENV{DYNATRONI_AARCH64_CLANG} "${DYNATRONI_AARCH64_CLANG}")

set(CMAKE_C_COMPILER clang-${DYNATRONI_AARCH64_CLANG})
set(CMAKE_CXX_COMPILER clang++-${DYNATRONI_AARCH64_CLANG})
set(CMAKE_C_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_CXX_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_AR /usr/bin/aarch64-linux-gnu-ar CACHE FILEPATH "")
set(CMAKE_RANLIB /usr/bin/aarch64-linux-gnu-ranlib CACHE FILEPATH "")
set(CMAKE_STRIP /usr/bin/aarch64-linux-gnu-strip CACHE FILEPATH "")

# libc++'s arm64 headers (its __config_site is per architecture; -nostdinc++ keeps the host's out, and -stdlib=libc++
# is for the link only, where clang would call it unused at compile time) and its static archives, linked into every
# binary and shared object (Debian's libc++.a carries libc++abi); libgcc_s and glibc come from the sysroot.
set(dynatroni_libcxx_dir "${DYNATRONI_AARCH64_ROOT}/usr/lib/llvm-${DYNATRONI_AARCH64_CLANG}")
set(CMAKE_CXX_FLAGS_INIT "-nostdinc++ -isystem ${dynatroni_libcxx_dir}/include/c++/v1")
set(dynatroni_link "-stdlib=libc++ -static-libstdc++ -L${dynatroni_libcxx_dir}/lib -pthread")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${dynatroni_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${dynatroni_link}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${dynatroni_link}")

# Libraries, headers and CMake packages for the target only: the arm64 prefix, the unpacked arm64 packages
# (zlib) and the sysroot; programs (perl, python, ninja) from the build machine.
set(CMAKE_FIND_ROOT_PATH "${DYNATRONI_AARCH64_PREFIX}" "${DYNATRONI_AARCH64_ROOT}" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
list(APPEND CMAKE_PREFIX_PATH "${DYNATRONI_AARCH64_PREFIX}")
# No build-tree RPATH to the unpacked zlib: the binaries are run with LD_LIBRARY_PATH under qemu (below), and the
# target machine has its own zlib.
set(CMAKE_SKIP_BUILD_RPATH ON)

# The tests run under qemu-user (no binfmt_misc needed): ctest calls them through it, and the unit tests are
# listed when ctest runs, not after the link (where the build machine may have no qemu).
set(CMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE PRE_TEST)
find_program(DYNATRONI_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(DYNATRONI_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${DYNATRONI_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu;-E;LD_LIBRARY_PATH=${DYNATRONI_AARCH64_ROOT}/lib/aarch64-linux-gnu")
endif()
