#!/usr/bin/env bash
# demo.sh — start the stack and show three execs through every hop.
#
#   scripts/demo.sh [--runtime fake|containerd]    (passed on to up.sh)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

kubeconfig=$("$root/scripts/up.sh" "$@")
k() { "$bin/mini-kubectl" --kubeconfig "$kubeconfig" "$@"; }
show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

show mini-kubectl exec demo -- echo hello from the container
k exec demo -- echo hello from the container

show "mini-kubectl exec demo -- sh -c 'echo to stdout; echo to stderr >&2; exit 3'; echo \"exit status: \$?\""
k exec demo -- sh -c 'echo to stdout; echo to stderr >&2; exit 3' && status=0 || status=$?
echo "exit status: $status"

show "printf 'one\ntwo\nthree\n' | mini-kubectl exec -i demo -- wc -l"
printf 'one\ntwo\nthree\n' | k exec -i demo -- wc -l

show "mini-kubectl exec --trace demo -- echo traced"
k exec --trace demo -- echo traced

api=$(sed -n 's/^ *server: *//p' "$kubeconfig" | head -n1)
cat <<EOF2

The timeline above is the trace of that exec, from the apiserver's live view.
Watch every exec cross the hops as it happens in a browser: the view is
behind the apiserver's authentication, so open it through kubectl proxy,

  kubectl --kubeconfig $kubeconfig proxy --port 8001 &
  then http://127.0.0.1:8001/ui/

(or $api/ui/ with the kubeconfig's token as a bearer token).

The stack is running on 127.0.0.1 (logs in $state/logs). Use it with kubectl:

  export KUBECONFIG=$kubeconfig
  kubectl get pods
  kubectl exec -it demo -- sh

or with bin/mini-kubectl the same way. See what runs with: make status
Back to the demo pod alone with: make reset. Stop it with: make down
Workshop labs: make lab (docs/labs/README.md); eval "\$(bin/execlab env)" gives
your shell \$APISERVER, \$TOKEN, \$CACERT… to follow one by hand.
EOF2
