#!/usr/bin/env bash
# The main job, end to end on this machine: curl fetches a page through
# libsocksify.so and the bundled socksd, and the page proves the path.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target socksd socksify socksify_shim >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for FILE PATTERN: up to 10 s for a line to appear.
wait_for() {
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: timed out waiting for $2 in $1" >&2
  exit 1
}

# A web page that tells each visitor the address it came from.
cat > "$work/page.py" <<'PY'
import http.server, sys
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"Hello! This page saw you come from {self.client_address[0]}.\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Page)
print(f"port {server.server_port}", flush=True)
server.serve_forever()
PY
python3 "$work/page.py" > "$work/page.out" &
pids+=($!)
wait_for "$work/page.out" '^port '
page_port=$(awk '/^port /{print $2}' "$work/page.out")

# socksd knows a name this machine cannot resolve, and connects out from
# 127.0.0.2: whatever arrives at the page from 127.0.0.2 came through socksd.
echo "127.0.0.1 www.socksify.demo" > "$work/hosts"
build/bin/socksd --listen 127.0.0.1:0 --external 127.0.0.2 --hosts "$work/hosts" > "$work/socksd.out" &
pids+=($!)
wait_for "$work/socksd.out" 'listening on'
proxy=$(sed -n 's/^socksd: listening on //p' "$work/socksd.out" | head -n 1)

url="http://www.socksify.demo:${page_port}/"
echo "\$ build/bin/socksify -v -x socks5h://$proxy curl -sS $url"
build/bin/socksify -v -x "socks5h://$proxy" curl -sS --max-time 10 "$url"
echo
echo "The name was resolved by socksd, and the page saw 127.0.0.2, the address"
echo "socksd connects from (--external): the request went through the proxy."
