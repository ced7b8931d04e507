#!/usr/bin/env bash
# down.sh — stop what up.sh started, kubelet first, and nothing else. State,
# logs and the kubeconfig stay in place for the next up.sh.
#
# With containerd (up.sh --runtime containerd) the pods outlive the kubelet,
# so they are deleted through the API first, which has the kubelet remove
# them from containerd; containerd itself is stopped (scripts/containerd.sh
# down) only if up.sh started it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

runtime=$(cat "$state/runtime" 2>/dev/null || echo fake)

# delete_pods deletes every pod in every namespace and waits until each is
# gone, which the kubelet allows once it removed the pod from the runtime.
delete_pods() {
	local k=("$bin/mini-kubectl" --kubeconfig "$state/kubeconfig") ns pods
	for ns in $("${k[@]}" get namespaces -o name); do
		mapfile -t pods < <("${k[@]}" -n "${ns#namespace/}" get pods -o name)
		((${#pods[@]} == 0)) || "${k[@]}" -n "${ns#namespace/}" delete "${pods[@]}" --grace-period=1 --timeout=60s >&2
	done
}

if [[ $runtime == containerd ]] && running apiserver && running kubelet; then
	delete_pods || echo "execlab: could not delete every pod; scripts/containerd.sh down removes what is left" >&2
fi

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

if [[ $runtime == containerd && -e $pids/containerd-started ]]; then
	"$root/scripts/containerd.sh" down
	rm -f "$pids/containerd-started"
fi
