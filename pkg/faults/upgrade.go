package faults

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/execlab/execlab/internal/httpserver"
)

// ErrorWriter answers a request with an error in the hop's own format (the
// apiserver's and the kubelet's Status).
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Wrap returns next with the faults of s that apply at hop to a session of
// kind (exec, attach or portforward): those of the upgrade request
// (upgrade-delay, refuse-upgrade, protocols) act before next, in their
// order; those of the connection (frame-delay, close-after, reset-after,
// stall) wrap the connection next hijacks, through httpserver.Recorder's
// WrapHijacked. With none, Wrap returns next itself: the data path pays
// nothing for faults that are off.
func Wrap(hop Hop, s Set, kind string, next http.Handler, writeError ErrorWriter) http.Handler {
	var request, connection Set
	for _, f := range s.At(hop) {
		if k := f.param("session"); k != "any" && k != kind {
			continue
		}
		switch f.Name {
		case "upgrade-delay", "refuse-upgrade", "protocols":
			request = append(request, f)
		case "frame-delay", "close-after", "reset-after", "stall":
			connection = append(connection, f)
		}
	}
	if len(request) == 0 && len(connection) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, f := range request {
			if !upgradeFault(f, w, r, writeError) {
				return
			}
		}
		if len(connection) > 0 {
			rec := httpserver.Record(w)
			rec.WrapHijacked(func(c net.Conn) net.Conn { return newConn(c, connection, r, kind) })
			w = rec
		}
		next.ServeHTTP(w, r)
	})
}

// upgradeFault applies one fault of the upgrade request; it reports
// whether the request goes on.
func upgradeFault(f Fault, w http.ResponseWriter, r *http.Request, writeError ErrorWriter) bool {
	switch f.Name {
	case "upgrade-delay":
		t := time.NewTimer(f.duration("d"))
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-r.Context().Done():
			return false
		}
	case "refuse-upgrade":
		if t := f.param("transport"); t != "any" && t != transportOf(r) {
			return true
		}
		if body := f.param("body"); body != "" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(f.status())
			_, _ = io.WriteString(w, body)
			return false
		}
		writeError(w, r, statusError(f.status(), refusalMessage))
		return false
	case "protocols":
		return offerOnly(f, w, r, writeError)
	}
	return true
}

// transportOf is the transport an upgrade request asks for: "spdy",
// "websocket" or "".
func transportOf(r *http.Request) string {
	switch up := strings.ToLower(r.Header.Get("Upgrade")); {
	case strings.HasPrefix(up, "spdy/"):
		return "spdy"
	case up == "websocket":
		return "websocket"
	}
	return ""
}

// offerOnly keeps, of the versions the client offers, those the fault
// lets the hop offer; none left is answered as upstream's
// httpstream.Handshake answers it, 403.
func offerOnly(f Fault, w http.ResponseWriter, r *http.Request, writeError ErrorWriter) bool {
	transport := transportOf(r)
	if transport == "" || !f.isSet(transport) {
		return true
	}
	header := httpstream.HeaderProtocolVersion
	if transport == "websocket" {
		header = "Sec-WebSocket-Protocol"
	}
	offered := headerTokens(r.Header.Values(header))
	if transport == "websocket" && len(offered) == 0 {
		// No subprotocol at all is channel.k8s.io, as the CRI servers read it.
		offered = []string{"channel.k8s.io"}
	}
	allowed := f.list(transport)
	var kept []string
	for _, p := range offered {
		if slices.Contains(allowed, p) {
			kept = append(kept, p)
		}
	}
	if len(kept) > 0 {
		r.Header.Del(header)
		for _, p := range kept {
			r.Header.Add(header, p)
		}
		return true
	}
	if transport == "spdy" && len(allowed) > 0 {
		_, _ = httpstream.Handshake(r, w, allowed)
		return false
	}
	writeError(w, r, statusError(http.StatusForbidden, fmt.Sprintf(
		"unable to upgrade: unable to negotiate protocol: client supports %v, server accepts %v", offered, allowed)))
	return false
}

// headerTokens splits the values of a list header at its commas.
func headerTokens(values []string) []string {
	var out []string
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// statusError is the API error with code and message, with the reason
// apimachinery gives the code (NewGenericServerResponse).
func statusError(code int, message string) error {
	st := apierrors.NewGenericServerResponse(code, "", schema.GroupResource{}, "", message, 0, false).ErrStatus
	st.Message, st.Details = message, nil
	return &apierrors.StatusError{ErrStatus: st}
}
