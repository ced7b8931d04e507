#!/usr/bin/env bash
# critest.sh — the CRI validation suite, cri-tools' critest v1.34, against
# fake-cri: every spec over SPDY, then the Streaming specs again over
# WebSocket. It skips only the specs that a runtime without namespaces,
# cgroups or security settings cannot honestly pass (the list below, and in
# docs/fake-runtime.md with the same reasons), and exits non-zero on any
# failure.
#
#   scripts/critest.sh           build what is missing, then run
#   scripts/critest.sh --build   only build critest
#
# critest is `go test -c` of sigs.k8s.io/cri-tools/cmd/critest, as
# cri-tools' Makefile builds it, from the Go module proxy, into
# $EXECLAB_TOOLS (default .execlab/tools, which git ignores). The web
# server specs serve on port 80: run as root.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=v1.34.0
tools=${EXECLAB_TOOLS:-$repo/.execlab/tools}
# Where the runs' logs stay: critest-spdy.log, critest-websocket.log, fake-cri.log.
logs=${EXECLAB_STATE:-$repo/.execlab}/critest
critest=$tools/critest-$version
export PATH=$PATH:/usr/local/go/bin

# The specs skipped: a ginkgo regexp of their names, "::", and why.
skips=(
	"AppArmor::no AppArmor profile is applied: processes run as fake-cri runs"
	"Container Mount Propagation::no mount namespace: mounts are the host's"
	"Container Mount Readonly::no mount namespace: a container's mounts are not made"
	"Container OOM::no cgroups: memory limits are not enforced"
	"PodSandbox runtime should support sysctls::no namespaces to set namespaced sysctls in"
	"Security Context NamespaceOption runtime should support (HostPID|HostIpc is false|PodPID|ContainerPID|HostNetwork is false)::no PID, IPC or network namespace of a pod's own: every pod shares the host's"
	"Security Context (bucket|SeccompProfilePath|NoNewPrivs|SupplementalGroupsPolicy|UserNamespaces)::no user, group, capability, seccomp, no-new-privileges, masked or read-only path or user namespace is applied: processes run as fake-cri runs; and some of these specs would change the host itself (its host name, a network bridge)"
	"should support DNS config::no mount namespace: /etc/resolv.conf is the host's"
	"should support set hostname::no UTS namespace: the host name is the host's"
	"runtime should support execSync with timeout::no PID namespace: its check, pgrep sleep in the container, sees every sleep on the host, so it passes only on a machine that runs no other; pkg/fakecri's TestExecSync/timeout checks that the timed-out command is gone"
)

say() { echo "critest.sh: $*" >&2; }

build() {
	[[ -x $critest ]] && return
	local start=$SECONDS dir
	mkdir -p "$tools"
	# Outside any module: the download changes no go.mod.
	dir=$(cd "$tools" && GO111MODULE=on GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/cri-tools@$version" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -d $dir ]] || { say "cannot download sigs.k8s.io/cri-tools@$version"; exit 1; }
	(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go test -c -trimpath \
		-ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=${version#v}" -o "$critest.tmp" ./cmd/critest)
	mv "$critest.tmp" "$critest"
	say "built critest $version in $((SECONDS - start))s: $critest"
}

build
[[ ${1:-} == --build ]] && exit 0
((EUID == 0)) || say "warning: not root: the web server specs cannot serve on port 80"

start=$SECONDS
(cd "$repo" && go build -o bin/ ./cmd/fake-cri ./cmd/fake-cri-shim ./cmd/imagebin)
work=$(mktemp -d /tmp/critest.XXXXXX)
rm -rf "$logs"
mkdir -p "$logs"
sock=$work/cri.sock
fakecri_pid=
cleanup() {
	if [[ -n $fakecri_pid ]]; then
		kill "$fakecri_pid" 2>/dev/null || true
		wait "$fakecri_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
"$repo/bin/fake-cri" --listen "unix://$sock" --root "$work/root" 2>"$logs/fake-cri.log" &
fakecri_pid=$!
for _ in $(seq 100); do
	[[ -S $sock ]] && break
	kill -0 "$fakecri_pid" 2>/dev/null || { cat "$logs/fake-cri.log" >&2; exit 1; }
	sleep 0.1
done

# The machine as critest found it. Containers on the fake are processes of
# the host, so a spec that sets a host name, makes a bridge, mounts, or
# changes a file's mode acts on the host itself: such specs are skipped
# above, and this check says so if one ever is not.
host_state() {
	{
		hostname
		stat -c '%n %a %U:%G' / /tmp /root /etc /usr /var /dev/shm
		ip -o link | awk '{print $2}'
		awk '{print $2}' /proc/mounts | sort
	} 2>&1
}
host_before=$(host_state)

skip_re=$(printf '%s|' "${skips[@]%%::*}")
skip_re=${skip_re%|}
failed=0
# run NAME ARGS...: one critest run; prints its counts and, on failure, its
# failures.
run() {
	local name=$1 out=$logs/critest-$1.log t=$SECONDS code=0
	shift
	(cd "$work" && "$critest" -runtime-endpoint "unix://$sock" -image-endpoint "unix://$sock" \
		-ginkgo.no-color -ginkgo.timeout 15m "$@") >"$out" 2>&1 || code=$?
	local counts
	counts=$(grep -E '^(SUCCESS|FAIL)! -- ' "$out" | tail -1 || true)
	if ((code != 0)) || [[ -z $counts ]]; then
		failed=1
		sed -n '/Summarizing/,$p' "$out" >&2
		[[ -n $counts ]] || tail -40 "$out" >&2
	fi
	# SUCCESS! -- 61 Passed | 0 Failed | 0 Pending | 47 Skipped
	read -r passed failures skipped < <(sed -E 's/.*-- ([0-9]+) Passed \| ([0-9]+) Failed \| [0-9]+ Pending \| ([0-9]+) Skipped.*/\1 \2 \3/' <<<"${counts:-- 0 Passed | 1 Failed | 0 Pending | 0 Skipped}")
	echo "critest $name: $passed passed, $failures failed, $skipped skipped ($((SECONDS - t))s)"
}

run spdy -ginkgo.skip "$skip_re"
run websocket -ginkgo.focus 'Streaming' -ginkgo.skip "$skip_re" -websocket-exec -websocket-attach -websocket-portforward

echo "skipped by design (docs/fake-runtime.md):"
for s in "${skips[@]}"; do
	printf '  %s\n      %s\n' "${s%%::*}" "${s#*::}"
done
if [[ $(host_state) != "$host_before" ]]; then
	say "critest changed the machine; before and after:"
	diff <(echo "$host_before") <(host_state) >&2 || true
	failed=1
fi
if ((failed)); then
	say "logs in $logs"
	exit 1
fi
echo "critest.sh: all passed in $((SECONDS - start))s"
