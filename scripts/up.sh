#!/usr/bin/env bash
# up.sh — build if needed, start fake-apiserver, fake-cri and fake-kubelet in
# the background on 127.0.0.1, create the demo pod, and print the kubeconfig's
# path. State lives in $EXECLAB_STATE (default: .execlab/ in the repo).
#
#   scripts/up.sh [--runtime fake]
#
# Ports: EXECLAB_APISERVER_PORT (6443), EXECLAB_KUBELET_PORT (10250).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

runtime=fake
while (($#)); do
	case $1 in
	--runtime) runtime=${2:-}; shift 2 || die "--runtime needs a value" ;;
	--runtime=*) runtime=${1#*=}; shift ;;
	*) die "unknown argument: $1 (usage: up.sh [--runtime fake])" ;;
	esac
done
[[ $runtime == fake ]] || die "unknown runtime \"$runtime\": this build supports --runtime fake"

api_port=${EXECLAB_APISERVER_PORT:-6443}
kubelet_port=${EXECLAB_KUBELET_PORT:-10250}
kubeconfig=$state/kubeconfig

for c in "${components[@]}"; do
	if running "$c"; then
		echo "execlab is already running (state in $state); scripts/down.sh stops it." >&2
		echo "$kubeconfig"
		exit 0
	fi
done

make -s -C "$root" build >&2
mkdir -p "$pids" "$state/logs"

# start NAME BINARY ARGS...: start in its own session, so that the terminal's
# Ctrl-C or closing does not reach it; down.sh stops it by PID.
start() {
	local name=$1 binary=$2
	shift 2
	setsid "$bin/$binary" "$@" </dev/null >>"$state/logs/$name.log" 2>&1 &
	echo $! >"$pids/$name.pid"
}

# await NAME WHAT CHECK...: retry CHECK for 30 s while NAME runs.
await() {
	local name=$1 what=$2
	shift 2
	for _ in $(seq 300); do
		"$@" >/dev/null 2>&1 && return 0
		running "$name" || die "$name exited during start-up; see $state/logs/$name.log"
		sleep 0.1
	done
	die "$name: no $what after 30 s; see $state/logs/$name.log"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free "$api_port" || die "port $api_port is in use; set EXECLAB_APISERVER_PORT"
port_free "$kubelet_port" || die "port $kubelet_port is in use; set EXECLAB_KUBELET_PORT"

api=http://127.0.0.1:$api_port
start apiserver fake-apiserver --bind-address 127.0.0.1 --secure-port "$api_port" --data-dir "$state/apiserver"
await apiserver "/readyz" curl -sf "$api/readyz"

cat >"$kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: execlab
  cluster:
    server: $api
users:
- name: execlab-admin
  user: {}
contexts:
- name: execlab
  context:
    cluster: execlab
    user: execlab-admin
    namespace: default
current-context: execlab
KUBECONFIG

socket=$state/cri/fake-cri.sock
mkdir -p "$state/cri"
start cri fake-cri --listen "unix://$socket" --root "$state/cri" --stream-address 127.0.0.1:0
await cri "CRI socket" test -S "$socket"

start kubelet fake-kubelet --kubeconfig "$kubeconfig" --node-name node-1 \
	--address 127.0.0.1 --port "$kubelet_port" \
	--container-runtime-endpoint "unix://$socket" --root-dir "$state/kubelet"
await kubelet "/healthz" curl -sf "http://127.0.0.1:$kubelet_port/healthz"

"$bin/mini-kubectl" --kubeconfig "$kubeconfig" apply -f "$root/scripts/demo-pod.yaml" >&2
pod_ready() { curl -sf "$api/api/v1/namespaces/default/pods/demo" | grep -q '"phase": *"Running"'; }
await kubelet "running demo pod" pod_ready

echo "$kubeconfig"
