#!/usr/bin/env bash
# down.sh — stop what up.sh started, kubelet first, and nothing else. State,
# logs and the kubeconfig stay in place for the next up.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

stopped=0
for c in kubelet cri apiserver; do
	if running "$c"; then
		pid=$(<"$pids/$c.pid")
		kill -TERM "$pid"
		for _ in $(seq 100); do
			[[ -d /proc/$pid ]] || break
			sleep 0.1
		done
		if [[ -d /proc/$pid ]]; then
			echo "execlab: $c (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
			kill -KILL "$pid"
		fi
		stopped=$((stopped + 1))
	fi
	rm -f "$pids/$c.pid"
done
echo "execlab: stopped $stopped component(s)" >&2
