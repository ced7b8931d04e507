package tracing

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// maskedHeaders hold credentials; a capture shows that they were sent, not
// what they were.
var maskedHeaders = []string{"Authorization", "Cookie", "Proxy-Authorization"}

// streamingPath is a streaming server's URL path, whose last part is a
// one-time token (the kubelet's /exec/NS/POD/CONTAINER has more parts).
var streamingPath = regexp.MustCompile(`^/(exec|attach|portforward)/[^/]+$`)

// RequestAttr is a request as it arrived at a hop, for the session span:
// its request line and its headers, sorted, credentials masked, streaming
// tokens in the path masked.
func RequestAttr(r *http.Request) attribute.KeyValue {
	uri := r.URL.RequestURI()
	if streamingPath.MatchString(r.URL.Path) {
		uri = MaskToken(r.URL.Path)
	}
	h := r.Header.Clone()
	if r.Host != "" {
		h.Set("Host", r.Host)
	}
	return AttrRequest.String(fmt.Sprintf("%s %s %s\n%s", r.Method, uri, r.Proto, headerLines(h)))
}

// responseAttr is an upgrade answer as a hop passed it on.
func responseAttr(resp *http.Response) attribute.KeyValue {
	return AttrResponse.String(fmt.Sprintf("%s %s\n%s", resp.Proto, resp.Status, headerLines(resp.Header)))
}

func headerLines(h http.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range h[k] {
			if slices.Contains(maskedHeaders, k) {
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " <masked>"
			}
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	return b.String()
}

// WriteHeaders writes, hop by hop in the order of the chain, the request
// each hop received and the upgrade answer it passed back, as the spans
// recorded them.
func WriteHeaders(w io.Writer, spans []Span) error {
	for _, hop := range Hops {
		for _, sp := range spans {
			if sp.Hop() != hop {
				continue
			}
			req, resp := sp.Attr(AttrRequest), ""
			for _, e := range sp.Events {
				if v := e.Attr(AttrRequest); v != "" && req == "" {
					req = v
				}
				if v := e.Attr(AttrResponse); v != "" {
					resp = v
				}
			}
			if req == "" && resp == "" {
				continue
			}
			if _, err := fmt.Fprintf(w, "\n== %s received\n%s", hop, req); err != nil {
				return err
			}
			if resp != "" {
				if _, err := fmt.Fprintf(w, "-- %s answered\n%s", hop, resp); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
