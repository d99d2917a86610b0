#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build and the tests need and
# is not there yet. Idempotent; uses sudo when not run as root.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config libc-ares-dev libgtest-dev libgmock-dev libbenchmark-dev
  # programs the integration tests run through the shim
  curl wget python3 python3-pyftpdlib nodejs ncat openssh-client openssh-server bind9-dnsutils dnsmasq-base netcat-openbsd
  # third-party SOCKS servers for interop
  dante-server microsocks
  # network namespaces for path-proving tests
  iproute2
  # the system-wide test runs a file-capability program (secure execution)
  libcap2-bin
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs may come from elsewhere on a developer machine: a working node will do.
if command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Services these packages ship (danted, sshd) are started by the tests
# themselves, on their own ports; policy-rc.d keeps apt from starting them.
if [ -z "$SUDO" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
