#!/usr/bin/env bash
# fuzz.sh [TIME] — run every fuzz target in the module for TIME (go test
# -fuzztime; default 20000x) each, on top of its seed corpus in
# testdata/fuzz; a failure shows the fuzzer's output, with the input it
# saved under testdata/fuzz. A count rather than a duration: Go 1.26's
# coordinator can fail a duration-bound run with "context deadline
# exceeded" and no crasher (go.dev/issue/75804, fixed in Go 1.27).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-20000x}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
grep -rl --include='*_test.go' '^func Fuzz' cmd pkg | sort | while read -r file; do
	dir=./$(dirname "$file")
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2 | while read -r target; do
		echo "fuzz $dir $target ($fuzztime)"
		if ! go test -run='^$' -fuzz="^$target\$" -fuzztime="$fuzztime" "$dir" >"$out" 2>&1; then
			cat "$out"
			exit 1
		fi
	done
done
