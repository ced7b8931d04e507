// Package httpserver is what every execlab server does the same way around
// its handlers, whatever it serves: the apiserver, the kubelet API and the
// CRI streaming server each use it, so that these mechanisms exist once.
//
// Exec, attach and port-forward hijack their connection: net/http forgets a
// hijacked connection, so a server that stops must close those itself, or
// its sessions outlive it. Conns tracks the handlers in flight and the
// connections they hijacked; Recorder is the one response wrapper, which
// notes the status code for request logs and hands a hijacked connection to
// its Conns.
//
//	conns.go     Conns: handlers in flight and hijacked connections; CloseAll,
//	             or CloseConns beside http.Server.Shutdown
//	recorder.go  Recorder: status code, Flusher and Hijacker kept, hijack tracked
//	sessions.go  SessionLimit: the bound on streaming sessions, 429 past it
//	pprof.go     Pprof: net/http/pprof under /debug/pprof/
//
// None of this is the lesson of execlab; upstream's servers do the same in
// k8s.io/apiserver/pkg/server (filters, routes/profiling.go) and
// pkg/kubelet/server.
package httpserver
