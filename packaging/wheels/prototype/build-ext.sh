#!/bin/sh
set -e
export PATH=/opt/buildtools/bin:$PATH CC=clang-16 CXX=clang++-16
pip install -q "nanobind==2.15.0" 2>&1 | tail -1
t0=$(date +%s)
cmake -S /src -B /b-clang -DDYNATRONI_BUILD_PYTHON=ON -DPython_EXECUTABLE=/opt/buildtools/bin/python \
  -DCMAKE_PREFIX_PATH="/opt/dyn-deps;/opt/gtest-libcxx" > /b-clang.configure3.log 2>&1 || { tail -20 /b-clang.configure3.log; exit 1; }
grep -E "Found Python" /b-clang.configure3.log || true
nice -n 19 ninja -C /b-clang -j2 _core > /b-clang.ext.log 2>&1 && echo "ext ok" || { grep -A5 FAILED: /b-clang.ext.log | head -20; exit 1; }
echo "extension: $(( $(date +%s) - t0 )) s"
ls -la /b-clang/python/_core*.so
ldd /b-clang/python/_core*.so
cd /b-clang/python && python3.9 -c "import sys; sys.path.insert(0, '.'); import _core; print('import ok (python3.9)')" || true
