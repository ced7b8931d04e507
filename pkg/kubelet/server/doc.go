// Package server is the kubelet API: the HTTP server that the apiserver
// proxies `kubectl exec`, attach, port-forward and logs to, as upstream's
// pkg/kubelet/server. It knows the kubelet only through HostInterface, so
// that it can be read, and tested, on its own.
//
// An exec crosses it like this: the route (server.go) counts the session
// against the limit, serveStream (exec.go) reads the query, finds the pod
// and asks the host for the runtime's streaming URL (HostInterface.GetExec,
// which sends the CRI Exec), then proxies the client's upgraded connection
// to that URL, translating a WebSocket v5 client to SPDY on the way; a
// refusal of the runtime's streaming server comes back as a Status
// (refusals.go). The files:
//
//	server.go         Server, HostInterface, the routes, /pods, /healthz, pprof,
//	                  the session limit, Serve and Stop
//	auth.go           TLS from the kubelet's flags; authentication and authorization
//	                  by TokenReview and SubjectAccessReview (cmd/kubelet/app/auth.go,
//	                  pkg/kubelet/server/auth.go and server.go InstallAuthFilter)
//	exec.go           serveStream: exec and attach, and the proxy to the runtime
//	portforward.go    servePortForward: port-forward over SPDY or tunnelled WebSocket
//	containerlogs.go  serveContainerLogs: /containerLogs and its query
//	refusals.go       the transport to the runtime that turns text refusals into a Status
//
// Tracking open connections, the response recorder, the session limit and
// pprof are shared with the other servers, in internal/httpserver.
package server
