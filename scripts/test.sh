#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: a normal build,
# then a build under AddressSanitizer + UndefinedBehaviorSanitizer.
#   bash scripts/test.sh            both passes
#   SOCKSIFY_TEST_PASSES=normal bash scripts/test.sh    just the normal one
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
passes=${SOCKSIFY_TEST_PASSES:-"normal asan"}
status=0

for pass in $passes; do
  case "$pass" in
    normal) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
    asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DSOCKSIFY_SANITIZE=ON) ;;
    *) echo "unknown pass $pass" >&2; exit 2 ;;
  esac
  echo "=== $pass build ($dir) ==="
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs"
  if [ "$pass" = asan ]; then
    # Where the shim is preloaded into a program that is not itself built with
    # ASan, the sanitizer runtime has to come first in LD_PRELOAD; the
    # integration harness reads this variable and does that.
    SOCKSIFY_ASAN_RUNTIME=$(gcc -print-file-name=libasan.so)
    export SOCKSIFY_ASAN_RUNTIME
    export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:verify_asan_link_order=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  fi
  echo "=== $pass tests ==="
  (cd "$dir" && ctest --output-on-failure --timeout 300 -j1) || status=1
  unset SOCKSIFY_ASAN_RUNTIME ASAN_OPTIONS UBSAN_OPTIONS
done
exit $status
