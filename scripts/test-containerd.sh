#!/usr/bin/env bash
# test-containerd.sh — `make test-containerd`: the pages of docs/ that need
# containerd, then the end-to-end suite with a real containerd as the
# runtime of its stacks (EXECLAB_E2E_RUNTIME, see
# test/e2e/runtime_test.go), on a containerd set up for the run with
# scripts/containerd.sh up and removed with scripts/containerd.sh down even
# when a test fails. Then it checks that `down` left the machine as `up`
# found it: the same mounts, network links and cgroups, and no process of
# containerd's (itself, its shims, runc, its containers) or of our state.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"

containerd_sh=$root/scripts/containerd.sh
if "$containerd_sh" status >/dev/null 2>&1; then
	die "a containerd of ours already runs (state $state/containerd); stop it with \`make down\` or \`scripts/containerd.sh down\` first, so that this test sets up and removes its own"
fi

# ours_ps lists "pid comm args" of the processes containerd could leave
# behind: containerd, its shims, runc, pause, anything in a cgroup under
# k8s.io (containerd's namespace: every container's processes), and
# anything naming our state directory. Other processes of a shared machine
# may come and go meanwhile and are not ours to judge.
ours_ps() {
	local p comm args
	for p in /proc/[0-9]*; do
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		args=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		if [[ $comm == containerd* || $comm == runc || $comm == pause || $args == *"$state/"* ]] ||
			grep -q '/k8s.io' "$p/cgroup" 2>/dev/null; then
			echo "${p#/proc/} $comm $args"
		fi
	done | sort
}

# snapshot DIR: what `down` must leave as it was.
snapshot() {
	mkdir -p "$1"
	mount | sort >"$1/mount"
	ip -o link show | sort >"$1/ip-link"
	find /sys/fs/cgroup -maxdepth 2 -name k8s.io | sort >"$1/cgroups"
	ours_ps >"$1/ps"
}

snapshots=$(mktemp -d)
snapshot "$snapshots/before"

teardown() {
	local code=$? f changed=0
	"$containerd_sh" down || code=1
	snapshot "$snapshots/after"
	for f in mount ip-link cgroups; do
		if ! diff -u "$snapshots/before/$f" "$snapshots/after/$f" >&2; then
			echo "test-containerd: FAIL: $f differs after scripts/containerd.sh down (- before up, + after down)" >&2
			changed=1
		fi
	done
	# Only processes that appeared count: one of ours may have ended.
	if [[ -n $(comm -13 "$snapshots/before/ps" "$snapshots/after/ps") ]]; then
		echo "test-containerd: FAIL: processes left after scripts/containerd.sh down:" >&2
		comm -13 "$snapshots/before/ps" "$snapshots/after/ps" >&2
		changed=1
	fi
	rm -rf "$snapshots"
	if ((changed)); then
		code=1
	elif ((code == 0)); then
		echo "test-containerd: ok; mount, ip link, cgroups and processes as before scripts/containerd.sh up" >&2
	fi
	exit "$code"
}
trap teardown EXIT

# The pages of docs/ and docs/labs/ that need containerd (test/docs), one
# at a time, each starting and stopping a containerd of its own in its own
# state directory, checked by the same snapshots.
EXECLAB_DOCS_CONTAINERD=1 go test -count=1 -timeout 20m -run TestPages ./test/docs/

endpoint=$("$containerd_sh" up)
EXECLAB_E2E_RUNTIME=containerd EXECLAB_E2E_CRI_ENDPOINT=$endpoint \
	go test -count=1 -timeout 20m ./test/e2e/
