#!/usr/bin/env bash
# Hook overhead, measured: the same micro-benchmarks without the shim, with
# the shim inert (no configuration), and with the shim configured (a proxy is
# set, the descriptors involved are untracked or the destination is local).
#   bash scripts/bench.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bash scripts/setup.sh
dpkg-query -W -f='${Status}' libbenchmark-dev 2>/dev/null | grep -q "install ok installed" || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y -qq libbenchmark-dev >/dev/null
}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target hooks_bench socksify_shim >/dev/null
bench="$build/bench/hooks_bench"
shim="$(cd "$build/bin" && pwd)/libsocksify.so"
args=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.2)
echo "== without the shim"
"$bench" "${args[@]}"
echo "== shim preloaded, inert (no SOCKSIFY_PROXY)"
env -u SOCKSIFY_PROXY LD_PRELOAD="$shim" "$bench" "${args[@]}"
echo "== shim preloaded, configured (socks5h://127.0.0.1:9; nothing here is proxied)"
LD_PRELOAD="$shim" SOCKSIFY_PROXY=socks5h://127.0.0.1:9 "$bench" "${args[@]}"
