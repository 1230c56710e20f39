# packaging/wheels/cmake-args-in-chroot.sh - sourced (sh) inside the bullseye chroot by wheel-in-chroot.sh and
# tests-in-chroot.sh: the CMake arguments of the x86-64 portable build (clang-16, a static libc++ 16, the static
# dependencies in /opt/dyn-deps), so that the unit tests (build.sh TESTS=1) build the way the wheel does.
LIBCXX=-stdlib=libc++
CMAKE_ARGS="-DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_CXX_FLAGS=$LIBCXX
  -DCMAKE_EXE_LINKER_FLAGS=$LIBCXX -DCMAKE_SHARED_LINKER_FLAGS=$LIBCXX -DCMAKE_MODULE_LINKER_FLAGS=$LIBCXX
  -DDYNATRONI_STATIC_DEPS=ON -DCMAKE_PREFIX_PATH=/opt/dyn-deps -DOPENSSL_ROOT_DIR=/opt/dyn-deps"
export CMAKE_ARGS
