#!/usr/bin/env bash
# containerd.sh — run a private containerd (the distribution's, 1.6 on Debian
# bookworm) as the CRI runtime behind fake-kubelet, fully offline.
#
#   scripts/containerd.sh up       install if missing, build and import the images, start
#   scripts/containerd.sh down     remove every pod and container, stop, leave nothing behind
#   scripts/containerd.sh status   running or not, socket, versions (exit 3 when stopped)
#
# `up` prints the CRI endpoint (unix://…/containerd.sock) on stdout, for
# fake-kubelet's --container-runtime-endpoint. Everything lives in
# $EXECLAB_CONTAINERD_DIR, by default $EXECLAB_STATE/containerd (and that
# .execlab/containerd in the repo); the distribution's containerd, its
# config and its socket are never touched.
# docs/containerd.md explains each step and setting.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${EXECLAB_STATE:-$repo/.execlab}
dir=${EXECLAB_CONTAINERD_DIR:-$state/containerd}
sock=$dir/containerd.sock
config=$dir/config.toml
pidfile=$dir/containerd.pid
log=$dir/containerd.log
cri=$repo/bin/execlab-cri
busybox_cache=$dir/cache/busybox-static

# The sandbox image: kubelet ≥ 1.31's default pause tag, set as sandbox_image.
pause_image=registry.k8s.io/pause:3.10
# Docker Hub's canonical name, so that `image: busybox` in a pod resolves to it.
busybox_image=docker.io/library/busybox:latest

# containerd 1.6 puts shim sockets in /run/containerd/s whatever its state dir
# is (runtime/v2/shim/util_unix.go: SocketAddress); we remove the directories
# on `down` when they are empty.
shim_dir=/run/containerd/s

# containerd finds its shim, and the shim finds runc, through PATH: Debian's
# runc is /usr/sbin/runc, which a non-login root shell may not have.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH:/usr/local/go/bin
umask 022

say() { echo "containerd.sh: $*" >&2; }
die() {
	say "$*"
	exit 1
}

# preconditions: everything this script needs, checked before it changes
# anything, each failing with one line that says what is missing.
preconditions() {
	local os
	os=$(uname -s)
	[[ $os == Linux ]] || die "needs Linux (this is $os) with root on Debian or Ubuntu; use the fake runtime"
	((EUID == 0)) || die "needs root on Debian or Ubuntu (apt-get); run as root or use the fake runtime"
	if ! { have_packages && [[ -n $(local_busybox) ]]; } && ! command -v apt-get >/dev/null; then
		die "needs containerd, runc and busybox-static, or apt-get (Debian or Ubuntu) to get them; use the fake runtime"
	fi
	command -v go >/dev/null || die "needs Go in PATH to build the pause image and execlab-cri"
	# unix socket paths are limited to 107 bytes; containerd adds ".ttrpc".
	((${#sock} + 6 <= 107)) || die "needs a shorter state path: $sock.ttrpc is over 107 bytes; set EXECLAB_STATE"
}

have_packages() {
	command -v containerd >/dev/null && command -v ctr >/dev/null &&
		command -v containerd-shim-runc-v2 >/dev/null && command -v runc >/dev/null
}

# apt_get ARGS...: apt-get with no questions; `update` only when the package
# lists lack what we want or are too old to download it, then retry once.
apt_get() {
	if ! DEBIAN_FRONTEND=noninteractive apt-get -q -y "$@" >>"$dir/apt.log" 2>&1; then
		say "apt-get $1 failed with the current package lists; running apt-get update (see $dir/apt.log)"
		apt-get -q update >>"$dir/apt.log" 2>&1 || die "apt-get update failed; see $dir/apt.log"
		DEBIAN_FRONTEND=noninteractive apt-get -q -y "$@" >>"$dir/apt.log" 2>&1 ||
			die "apt-get $* failed; see $dir/apt.log"
	fi
}

install_packages() {
	have_packages && return
	say "installing containerd and runc from the distribution"
	# Installing must not start the distribution's containerd service: where
	# systemd runs, a policy-rc.d that answers 101 ("action forbidden") keeps
	# the package's postinst from starting it, and we undo the enabling.
	local policy=/usr/sbin/policy-rc.d
	if [[ -d /run/systemd/system && ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt_get install --no-install-recommends containerd runc
	if [[ -d /run/systemd/system ]]; then
		systemctl disable containerd.service >/dev/null 2>&1 || true
	fi
	have_packages || die "containerd, ctr, containerd-shim-runc-v2 or runc still missing after apt-get install"
}

# local_busybox prints the path of a static busybox already on this machine:
# the installed busybox-static's, or the one we unpacked before; else nothing.
local_busybox() {
	if [[ $(dpkg-query -W -f '${Status}' busybox-static 2>/dev/null) == "install ok installed" ]]; then
		echo /bin/busybox
	elif [[ -x $busybox_cache/bin/busybox ]]; then
		echo "$busybox_cache/bin/busybox"
	fi
}

# busybox_binary prints the path of a static busybox, taking it out of
# busybox-static's .deb when there is none: only unpacked, not installed,
# because busybox-static conflicts with the busybox package many systems have.
busybox_binary() {
	if [[ -z $(local_busybox) ]]; then
		say "fetching busybox-static's .deb (it is not installed; we only unpack it)"
		rm -rf "$busybox_cache"
		mkdir -p "$busybox_cache"
		(cd "$busybox_cache" && apt_get download busybox-static)
		dpkg-deb -x "$busybox_cache"/busybox-static_*.deb "$busybox_cache"
	fi
	local_busybox
}

running() {
	local pid
	[[ -f $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ -r /proc/$pid/cmdline ]] || return 1
	# A recycled PID is not mistaken for ours: it must run our config.
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--config $config"
}

# snapshotter prints overlayfs when this kernel and file system can mount an
# overlay with two lower layers under containerd's root (what the overlayfs
# snapshotter needs), else native (plain copies: slower, works everywhere).
snapshotter() {
	local t=$dir/root/overlay-probe result=native
	rm -rf "$t"
	mkdir -p "$t"/{l1,l2,upper,work,merged}
	if mount -t overlay overlay -o "lowerdir=$t/l1:$t/l2,upperdir=$t/upper,workdir=$t/work" "$t/merged" 2>/dev/null; then
		umount "$t/merged"
		result=overlayfs
	fi
	rm -rf "$t"
	echo "$result"
}

write_config() {
	cat >"$config" <<EOF
# Written by scripts/containerd.sh on every \`up\`: edit the script, not this file.
# Only the settings that differ from containerd 1.6's defaults, or that must not
# depend on them, are here; docs/containerd.md explains each.
version = 2

# Our own root, state and socket: nothing is shared with the distribution's
# containerd (/var/lib/containerd, /run/containerd/containerd.sock).
root = "$dir/root"
state = "$dir/state"

[grpc]
  address = "$sock"

[plugins]
  # The "opt" plugin would otherwise create /opt/containerd.
  [plugins."io.containerd.internal.v1.opt"]
    path = "$dir/opt"

  # The CRI plugin is enabled: it is not in disabled_plugins (the key is absent).
  [plugins."io.containerd.grpc.v1.cri"]
    # Our offline pause image; the default, registry.k8s.io/pause:3.6, would be pulled.
    sandbox_image = "$pause_image"
    # The streaming server for Exec/Attach/PortForward URLs: loopback and a free
    # port picked at start (both are 1.6's defaults, pinned here on purpose).
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    # No CAP_SYS_RESOURCE here, so no process may lower its oom_score_adj:
    # sandboxes ask for -998 and runc fails ("can't get final child's PID
    # from pipe: EOF"). Clamp every score to containerd's own instead.
    restrict_oom_score_adj = true

    [plugins."io.containerd.grpc.v1.cri".containerd]
      # What the overlay probe found on this machine: $snapshotter.
      snapshotter = "$snapshotter"
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          # cgroupfs: there may be no systemd to ask for cgroups.
          SystemdCgroup = false
          # runc's own state, out of the shared /run/containerd/runc.
          Root = "$dir/runc"

    # Only host-network pods: no CNI plugin is needed. Point CNI at our empty
    # directories so that a host's /etc/cni/net.d is never used.
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$dir/cni/bin"
      conf_dir = "$dir/cni/net.d"
EOF
}

# tar_dir DIR OUT: a tar of DIR's content that depends on nothing but the
# content: sorted names, owner 0:0, mtime 0 (so image IDs are stable).
tar_dir() {
	local entries
	mapfile -t entries < <(cd "$1" && ls -A)
	tar --create --file "$2" --directory "$1" --format=gnu --sort=name \
		--owner=0 --group=0 --numeric-owner --mtime=@0 -- "${entries[@]}"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# docker_archive NAME ROOTFS OUT CONFIG: pack ROOTFS as the one layer of image
# NAME in docker-archive form (what `docker save` writes and `ctr images
# import` reads): manifest.json, the image config, the layer tar. CONFIG is
# the JSON of the image config's "config" object.
docker_archive() {
	local name=$1 rootfs=$2 out=$3 cfg=$4 work diff id arch
	work=$(mktemp -d "$dir/images/archive.XXXXXX")
	tar_dir "$rootfs" "$work/layer.tar"
	diff=$(sha256 "$work/layer.tar")
	mkdir "$work/$diff"
	mv "$work/layer.tar" "$work/$diff/layer.tar"
	arch=$(go env GOARCH)
	printf '{"architecture":"%s","config":%s,"created":"1970-01-01T00:00:00Z","history":[{"created":"1970-01-01T00:00:00Z","created_by":"scripts/containerd.sh"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$arch" "$cfg" "$diff" >"$work/config.json"
	id=$(sha256 "$work/config.json")
	mv "$work/config.json" "$work/$id.json"
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$id" "$name" "$diff" >"$work/manifest.json"
	mkdir -p "$work/pack"
	mv "$work/manifest.json" "$work/$id.json" "$work/$diff" "$work/pack/"
	tar_dir "$work/pack" "$out"
	rm -rf "$work"
	echo "sha256:$id"
}

build_images() {
	local img=$dir/images rootfs busybox id
	rm -rf "$img"
	mkdir -p "$img"

	# pause: our cmd/pause, static, reproducible (no VCS stamp, no paths),
	# as USER 65535:65535 like upstream's build/pause/Dockerfile.
	rootfs=$img/pause-rootfs
	mkdir -p "$rootfs"
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o "$rootfs/pause" ./cmd/pause) ||
		die "building cmd/pause failed"
	id=$(docker_archive "$pause_image" "$rootfs" "$img/pause.tar" '{"Entrypoint":["/pause"],"User":"65535:65535"}')
	say "built $pause_image ($id)"

	# busybox: Debian's static busybox, every applet as a symlink to it where
	# `busybox --install -s` puts it, root in /etc/passwd, /tmp, and our
	# echoserver.
	busybox=$(busybox_binary)
	rootfs=$img/busybox-rootfs
	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root}
	mkdir -m 1777 "$rootfs/tmp"
	chmod 700 "$rootfs/root"
	install -m 755 "$busybox" "$rootfs/bin/busybox"
	local applet
	while read -r applet; do
		[[ $applet == bin/busybox ]] || ln -s /bin/busybox "$rootfs/$applet"
	done < <("$busybox" --list-full)
	# The end-to-end suite's port-forward target (test/e2e/echoserver):
	# busybox has no TCP echo server that serves connections concurrently.
	mkdir -p "$rootfs/usr/local/bin"
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o "$rootfs/usr/local/bin/echoserver" ./test/e2e/echoserver) ||
		die "building test/e2e/echoserver failed"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
	id=$(docker_archive "$busybox_image" "$rootfs" "$img/busybox.tar" \
		'{"Cmd":["sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}')
	say "built $busybox_image ($id)"
	rm -rf "$img/pause-rootfs" "$img/busybox-rootfs"
}

# import_images: into the k8s.io namespace, the CRI plugin's, unpacked for
# the snapshotter the CRI plugin uses.
import_images() {
	local tarball
	for tarball in "$dir/images/pause.tar" "$dir/images/busybox.tar"; do
		ctr --address "$sock" -n k8s.io images import --snapshotter "$snapshotter" "$tarball" >>"$log" 2>&1 ||
			die "ctr images import $tarball failed; see $log"
	done
}

build_cri_client() {
	if [[ -x $cri && -z $(find "$repo/cmd/execlab-cri" "$repo/pkg/criclient" -newer "$cri" -print -quit) ]]; then
		return
	fi
	mkdir -p "$repo/bin"
	(cd "$repo" && go build -o "$cri" ./cmd/execlab-cri) || die "building cmd/execlab-cri failed"
}

up() {
	mkdir -p "$dir"
	if running; then
		say "already running (pid $(<"$pidfile")); \`scripts/containerd.sh down\` stops it"
		echo "unix://$sock"
		return
	fi
	install_packages
	build_cri_client
	mkdir -p "$dir"/{root,state,opt,runc,cni/bin,cni/net.d}
	snapshotter=$(snapshotter)
	write_config
	build_images
	start_containerd
	import_images
	say "running (pid $(<"$pidfile"), snapshotter $snapshotter, log $log)"
	echo "unix://$sock"
}

start_containerd() {
	rm -f "$sock" "$sock.ttrpc"
	# Its own session, so that a terminal's Ctrl-C does not reach it; `down`
	# stops it by PID.
	setsid containerd --config "$config" </dev/null >>"$log" 2>&1 &
	echo $! >"$pidfile"
	for _ in $(seq 300); do
		[[ -S $sock ]] && break
		# Alive, not running: until setsid has exec'd containerd, the PID
		# still runs bash, which running would take for a recycled PID.
		kill -0 "$(<"$pidfile")" 2>/dev/null || die "containerd exited during start-up; see $log"
		sleep 0.1
	done
	"$cri" -runtime-endpoint "unix://$sock" -timeout 30s wait >/dev/null ||
		die "containerd's CRI did not become ready in 30 s; see $log"
}

stop_containerd() {
	local pid
	pid=$(<"$pidfile")
	kill -TERM "$pid"
	for _ in $(seq 100); do
		[[ -d /proc/$pid ]] || break
		sleep 0.1
	done
	if [[ -d /proc/$pid ]]; then
		say "containerd (pid $pid) ignored SIGTERM for 10 s; killing it"
		kill -KILL "$pid"
	fi
	rm -f "$pidfile"
	say "stopped containerd (pid $pid)"
}

# our_shims prints the PIDs of shims serving our containerd: they carry its
# socket in their command line.
our_shims() {
	local p
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "-address $sock " && echo "${p#/proc/}"
	done
	return 0
}

# our_mounts prints mount points under our directory, deepest first.
our_mounts() {
	findmnt -rn -o TARGET | { grep -F -- "$dir/" || true; } | sort -r
}

# shim_sockets prints the socket of the shim of every task bundle in our
# state: /run/containerd/s/ + sha256 of "<our socket>/<namespace>/<id>"
# (SocketAddress in runtime/v2/shim/util_unix.go). A shim removes its own
# when it ends normally; a killed one leaves it behind.
shim_sockets() {
	local b
	for b in "$dir"/state/io.containerd.runtime.v2.task/*/*/; do
		[[ -d $b ]] || continue
		b=${b%/}
		printf '%s' "$sock/$(basename "$(dirname "$b")")/$(basename "$b")" | sha256sum |
			{ read -r sum _ && echo "$shim_dir/$sum"; }
	done
}

# children PID prints the PIDs whose parent is PID.
children() {
	local stat
	for stat in /proc/[0-9]*/stat; do
		# Field 4 is the parent; the command name before it is in parentheses.
		[[ $(sed 's/.*) //' "$stat" 2>/dev/null | cut -d' ' -f2) == "$1" ]] && basename "$(dirname "$stat")"
	done
	return 0
}

down() {
	if ! running && [[ -f $config && -n $(our_shims)$(our_mounts) ]]; then
		# A containerd that died left pods behind: a new one reconnects to
		# their shims, and CRI can then remove them properly.
		say "found pods of a containerd that is gone; starting one to remove them"
		build_cri_client
		start_containerd
	fi
	if running; then
		build_cri_client
		# Pods first: removing a sandbox through CRI stops its containers,
		# unmounts their root file systems and its /dev/shm, and ends the shims.
		"$cri" -runtime-endpoint "unix://$sock" -timeout 60s reset >&2 ||
			say "could not remove every pod through CRI; cleaning up what is left"
		stop_containerd
	else
		say "not running"
	fi
	rm -f "$pidfile" "$sock" "$sock.ttrpc"

	# Last resort, for what CRI could not remove: shims serving our socket
	# with the first process of each of their containers, then mounts.
	local pid m leftovers=0
	for pid in $(our_shims); do
		say "killing leftover shim $pid and its containers"
		# shellcheck disable=SC2046 # one PID per word
		kill -KILL $(children "$pid") "$pid" 2>/dev/null || true
		leftovers=1
	done
	while read -r m; do
		[[ -n $m ]] || continue
		say "unmounting leftover $m"
		umount "$m" 2>/dev/null || umount -l "$m"
		leftovers=1
	done < <(our_mounts)
	for m in $(shim_sockets); do
		[[ -S $m ]] || continue
		say "removing leftover shim socket $m"
		rm -f "$m"
		leftovers=1
	done
	rmdir "$shim_dir" /run/containerd 2>/dev/null || true
	remove_cgroups
	((leftovers == 0)) || say "cleaned up leftovers; see $log"
}

# remove_cgroups: a container whose sandbox has no cgroup_parent gets the
# cgroup /k8s.io/<id> (containerd's namespace, then the ID) in every hierarchy;
# runc removes <id> with the container but never the /k8s.io it created.
# rmdir only removes cgroups without processes or children, so one that
# another containerd still uses stays.
remove_cgroups() {
	local d
	for d in /sys/fs/cgroup/k8s.io /sys/fs/cgroup/*/k8s.io; do
		[[ -d $d ]] || continue
		find "$d" -depth -type d -print0 | xargs -0 rmdir 2>/dev/null || true
		[[ ! -d $d ]] || say "left cgroup $d: still in use"
	done
}

status() {
	if ! running; then
		echo "containerd: not running (state $dir)"
		return 3
	fi
	echo "containerd: running, pid $(<"$pidfile")"
	echo "socket:     unix://$sock"
	echo "config:     $config"
	echo "log:        $log"
	echo "version:    $(containerd --version)"
	build_cri_client
	echo "cri:        $("$cri" -runtime-endpoint "unix://$sock" -timeout 10s version)"
	"$cri" -runtime-endpoint "unix://$sock" -timeout 10s ls
}

case ${1:-} in
up | down | status) ;;
*) die "usage: scripts/containerd.sh up|down|status" ;;
esac
preconditions
"$1"
