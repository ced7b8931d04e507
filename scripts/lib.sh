# Shared by up.sh and down.sh: where things live, and how to tell whether a
# component we started is still running.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${EXECLAB_STATE:-$root/.execlab}
bin=$root/bin
pids=$state/pids
components=(apiserver cri kubelet)

# running NAME: true when NAME's pid file names a live process running one of
# our binaries (a recycled PID is not mistaken for ours).
running() {
	local pidfile=$pids/$1.pid pid
	[[ -f $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$bin/fake-"
}

die() {
	echo "execlab: $*" >&2
	exit 1
}
