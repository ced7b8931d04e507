#!/usr/bin/env bash
# down.sh — stop what up.sh started, kubelet first, and nothing else:
# `bin/execlab down` (pkg/demostack). State, logs and the kubeconfig stay in
# place for the next up.sh.
#
# With containerd (up.sh --runtime containerd) the pods outlive the kubelet,
# so they are deleted through the API first, which has the kubelet remove
# them from containerd; containerd itself is stopped (scripts/containerd.sh
# down) only if up.sh started it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[[ -x $bin/execlab ]] || make -s -C "$root" build >&2
exec "$bin/execlab" down
