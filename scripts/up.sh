#!/usr/bin/env bash
# up.sh — build if needed, then start fake-apiserver, fake-cri and
# fake-kubelet in the background on 127.0.0.1, create the demo pod, and
# print the kubeconfig's path: `bin/execlab up` (pkg/demostack) does it all
# but the build. State lives in $EXECLAB_STATE (default: .execlab/ in the
# repo).
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

make -s -C "$root" build >&2
exec "$bin/execlab" up "$@"
