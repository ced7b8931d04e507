package httpserver

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// PprofPath is where every execlab server serves net/http/pprof, as
// kube-apiserver, the kubelet and containerd's debug address do. The
// end-to-end tests read goroutine counts from it to find leaks.
const PprofPath = "/debug/pprof/"

// Pprof serves net/http/pprof for any path under PprofPath: the endpoints
// that are handlers of their own (profile, symbol, cmdline, trace) and,
// through pprof.Index, the index and every named profile. It is one
// handler so that a router with one wildcard route (the kubelet's
// go-restful, as upstream's handlePprofEndpoint) and a ServeMux mount it
// alike.
func Pprof() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.URL.Path, PprofPath) {
		case "profile":
			pprof.Profile(w, r)
		case "symbol":
			pprof.Symbol(w, r)
		case "cmdline":
			pprof.Cmdline(w, r)
		case "trace":
			pprof.Trace(w, r)
		default:
			pprof.Index(w, r)
		}
	})
}
