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
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target hooks_bench socksify_shim socksify socksd >/dev/null
bench="$build/bench/hooks_bench"
shim="$(cd "$build/bin" && pwd)/libsocksify.so"
args=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.2)
echo "== without the shim"
"$bench" "${args[@]}"
echo "== shim preloaded, inert (no SOCKSIFY_PROXY)"
env -u SOCKSIFY_PROXY LD_PRELOAD="$shim" "$bench" "${args[@]}"
echo "== shim preloaded, configured (socks5h://127.0.0.1:9; nothing here is proxied)"
LD_PRELOAD="$shim" SOCKSIFY_PROXY=socks5h://127.0.0.1:9 "$bench" "${args[@]}"
# The same with a socks.conf of eight routes: a loopback connect is decided
# by the router, which reads every route (only one that names loopback may
# take it).
conf=$(mktemp)
cat > "$conf" <<'CONF'
proxy a = socks5h://127.0.0.1:9
proxy b = socks5://127.0.0.1:10
route 10.0.0.0/8, 172.16.0.0/12 -> direct
route 192.168.0.0/16 -> a
route *.corp.example, corp.example -> b dns local
route :22, :8000-8999 -> a > b
route [2001:db8::/32] -> a
route 203.0.113.0/24 -> block
route *.onion -> a
route * -> a | b
CONF
echo "== shim preloaded, configured by a socks.conf of eight routes"
env -u SOCKSIFY_PROXY LD_PRELOAD="$shim" SOCKSIFY_CONF="$conf" "$bench" "${args[@]}"
rm -f "$conf"

# TCP throughput through socksd on loopback: curl's own SOCKS client (no shim)
# against the same curl under socksify. Both pay socksd's relay; the
# difference is what the shim costs a TCP program after its handshake.
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
truncate -s 2G "$work/big.bin"
cat > "$work/srv.py" <<'PY'
import os, socket, sys, threading
path = sys.argv[1]
size = os.path.getsize(path)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
def serve(c):
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    with open(path, "rb") as f:
        c.sendfile(f)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
python3 "$work/srv.py" "$work/big.bin" > "$work/port" & pids+=($!)
echo "127.0.0.1 big.test" > "$work/hosts"
"$build/bin/socksd" --listen 127.0.0.1:0 --hosts "$work/hosts" -q > "$work/socksd.out" & pids+=($!)
for _ in $(seq 50); do [ -s "$work/port" ] && grep -q listening "$work/socksd.out" && break; sleep 0.1; done
port=$(cat "$work/port")
proxy=$(sed -n 's/^socksd: listening on //p' "$work/socksd.out" | head -n 1)
echo "== TCP throughput, 2 GiB through socksd on loopback (MiB/s)"
for i in 1 2 3; do
  a=$(curl -s -o /dev/null -w '%{speed_download}' --socks5-hostname "$proxy" "http://big.test:$port/")
  b=$("$build/bin/socksify" -x "socks5h://$proxy" curl -s -o /dev/null -w '%{speed_download}' "http://big.test:$port/")
  echo "run $i: curl's own SOCKS client $(( ${a%.*} / 1048576 )), curl under socksify $(( ${b%.*} / 1048576 ))"
done
