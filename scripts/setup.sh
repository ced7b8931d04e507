#!/usr/bin/env bash
# setup.sh — what `make test` needs beyond Go: Debian packages, installed
# only when missing (a second run does nothing), and the Go modules.
#
#   chromium        the headless browser the live view's tests drive
#   busybox-static  the busybox that the fake runtime's busybox images run
#                   (docs/fake-runtime.md)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(chromium busybox-static)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	((EUID == 0)) || { echo "setup: ${missing[*]} missing; run as root (apt-get install ${missing[*]})" >&2; exit 1; }
	echo "setup: installing ${missing[*]}" >&2
	log=$(mktemp)
	if ! DEBIAN_FRONTEND=noninteractive apt-get -q -y install "${missing[@]}" >"$log" 2>&1; then
		apt-get -q update >>"$log" 2>&1 || { cat "$log" >&2; exit 1; }
		DEBIAN_FRONTEND=noninteractive apt-get -q -y install "${missing[@]}" >>"$log" 2>&1 || { cat "$log" >&2; exit 1; }
	fi
	rm -f "$log"
fi
cd "$root" && go mod download
