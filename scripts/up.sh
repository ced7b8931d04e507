#!/usr/bin/env bash
# up.sh — build if needed, start fake-apiserver, fake-cri and fake-kubelet in
# the background on 127.0.0.1, create the demo pod, and print the kubeconfig's
# path. State lives in $EXECLAB_STATE (default: .execlab/ in the repo).
#
#   scripts/up.sh [--runtime fake|containerd]
#
# --runtime containerd runs the pods in a private containerd instead of
# fake-cri: scripts/containerd.sh up starts it (and installs it first if
# needed; see docs/containerd.md) unless it already runs.
#
# Ports: EXECLAB_APISERVER_PORT (6443), EXECLAB_KUBELET_PORT (10250).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

runtime=fake
while (($#)); do
	case $1 in
	--runtime) runtime=${2:-}; shift 2 || die "--runtime needs a value" ;;
	--runtime=*) runtime=${1#*=}; shift ;;
	*) die "unknown argument: $1 (usage: up.sh [--runtime fake|containerd])" ;;
	esac
done
[[ $runtime == fake || $runtime == containerd ]] || die "unknown runtime \"$runtime\": use --runtime fake or --runtime containerd"

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
		# Alive, not running: until setsid has exec'd the binary, the PID
		# still runs bash, which running would take for a recycled PID.
		kill -0 "$(<"$pids/$name.pid")" 2>/dev/null || die "$name exited during start-up; see $state/logs/$name.log"
		sleep 0.1
	done
	die "$name: no $what after 30 s; see $state/logs/$name.log"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free "$api_port" || die "port $api_port is in use; set EXECLAB_APISERVER_PORT"
port_free "$kubelet_port" || die "port $kubelet_port is in use; set EXECLAB_KUBELET_PORT"

api=https://127.0.0.1:$api_port
pki=$state/apiserver/pki
mkdir -p "$state/apiserver"
# One admin token, made on the first start and kept: kubeconfigs handed out
# stay valid across restarts, as do the certificates the apiserver makes.
tokens=$state/apiserver/tokens.csv
[[ -s $tokens ]] || echo "$(head -c 24 /dev/urandom | base64 | tr '+/' '-_'),admin,admin,\"system:masters\"" >"$tokens"
chmod 600 "$tokens"
token=$(cut -d, -f1 "$tokens" | head -n1)
policy=$state/apiserver/policy.yaml
[[ -e $policy ]] || printf '# Rules added to the built-in roles; see docs/security.md.\nrules: []\n' >"$policy"

start apiserver fake-apiserver --bind-address 127.0.0.1 --secure-port "$api_port" --data-dir "$state/apiserver" \
	--token-auth-file "$tokens" --authorization-policy-file "$policy"
await apiserver "/readyz" curl -sf --cacert "$pki/ca.crt" "$api/readyz"

# write_kubeconfig FILE USER-FIELDS: a kubeconfig trusting the cluster CA.
write_kubeconfig() {
	cat >"$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: execlab
  cluster:
    server: $api
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: execlab-user
  user:
$2
contexts:
- name: execlab
  context:
    cluster: execlab
    user: execlab-user
    namespace: default
current-context: execlab
KUBECONFIG
	chmod 600 "$1"
}
write_kubeconfig "$kubeconfig" "    token: $token"
write_kubeconfig "$state/kubelet.kubeconfig" "    client-certificate: $pki/kubelet-client.crt
    client-key: $pki/kubelet-client.key"

echo "$runtime" >"$state/runtime"
if [[ $runtime == containerd ]]; then
	# down.sh stops containerd only if it was not running before.
	rm -f "$pids/containerd-started"
	"$root/scripts/containerd.sh" status >/dev/null 2>&1 || touch "$pids/containerd-started"
	endpoint=$("$root/scripts/containerd.sh" up)
else
	socket=$state/cri/fake-cri.sock
	mkdir -p "$state/cri"
	start cri fake-cri --listen "unix://$socket" --root "$state/cri" --stream-address 127.0.0.1:0
	await cri "CRI socket" test -S "$socket"
	endpoint=unix://$socket
fi

start kubelet fake-kubelet --kubeconfig "$state/kubelet.kubeconfig" --node-name node-1 \
	--address 127.0.0.1 --port "$kubelet_port" \
	--tls-cert-file "$pki/kubelet.crt" --tls-private-key-file "$pki/kubelet.key" --client-ca-file "$pki/ca.crt" \
	--container-runtime-endpoint "$endpoint" --root-dir "$state/kubelet"
await kubelet "/healthz" curl -sf --cacert "$pki/ca.crt" --cert "$pki/apiserver-kubelet-client.crt" \
	--key "$pki/apiserver-kubelet-client.key" "https://127.0.0.1:$kubelet_port/healthz"

"$bin/mini-kubectl" --kubeconfig "$kubeconfig" apply -f "$root/scripts/demo-pod.yaml" >&2
pod_ready() {
	curl -sf --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "$api/api/v1/namespaces/default/pods/demo" |
		grep -q '"phase": *"Running"'
}
await kubelet "running demo pod" pod_ready

echo "$kubeconfig"
