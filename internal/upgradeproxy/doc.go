// Package upgradeproxy holds the one change execlab makes to how
// k8s.io/apimachinery's UpgradeAwareHandler proxies a session: the
// apiserver proxies exec, attach and port-forward to the kubelet through it,
// and the kubelet to the runtime's streaming server, as upstream does.
//
// UpgradeAwareHandler copies each way in its own goroutine and ends the
// session, closing both connections, as soon as either copy ends
// (apimachinery pkg/util/proxy/upgradeaware.go, tryUpgrade). A streaming
// server ends a session by writing the exit status and closing; if the
// client's next bytes (its stdin's end, a window update) reach the closed
// backend first, the client-to-backend copy fails with EPIPE or ECONNRESET
// and the handler can close the client's connection before the other copy
// has passed on the status: kubectl then hears no exit code (client-go
// takes an empty error stream for success). One session in a few hundred
// lost its end that way under load.
//
// Dial's connections drop what is written once the backend has gone, so
// that only the backend-to-client copy, having passed on everything the
// backend sent, ends the session.
//
//	backend.go  Dial: UpgradeAwareHandler's backend connections, writes dropped once the backend is gone
package upgradeproxy
