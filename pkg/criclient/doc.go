// Package criclient is the small CRI client behind cmd/execlab-cri, which
// scripts/containerd.sh uses where crictl would be (Debian bookworm ships
// no cri-tools). It speaks k8s.io/cri-api's RuntimeService over the
// runtime's unix socket, as the kubelet does; each command prints a few
// lines for a script or its reader:
//
//	client.go  Dial, and the commands: Version, Wait, List, Reset
//	exec.go    Exec: the streaming URL of a CRI Exec, printed (docs/labs)
//
// Reset is how scripts/containerd.sh down leaves nothing behind: removing a
// sandbox through CRI, unlike deleting containers with ctr, also unmounts
// its /dev/shm and deletes the runtime's own records and directories.
package criclient
