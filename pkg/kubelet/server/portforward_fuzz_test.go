package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzPortForwardPorts feeds the kubelet's WebSocket port-forward query
// parsing (portforward.NewV4Options upstream) arbitrary queries: no panic,
// and what it accepts is one valid port per comma-separated item of every
// "port" parameter.
func FuzzPortForwardPorts(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		req := &http.Request{
			URL:    &url.URL{RawQuery: raw},
			Header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}},
		}
		ports, err := portForwardPorts(req)
		if err != nil {
			return
		}
		items := 0
		for _, v := range req.URL.Query()["port"] {
			items += strings.Count(v, ",") + 1
		}
		if len(ports) == 0 || len(ports) != items {
			t.Fatalf("%q: %d ports %v from %d items", raw, len(ports), ports, items)
		}
		for _, p := range ports {
			if p < 1 || p > 65535 {
				t.Fatalf("%q: accepted port %d", raw, p)
			}
		}
	})
}
