package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// ReceiverPath is where OTLP/HTTP exporters post spans.
const ReceiverPath = "/v1/traces"

// maxExport bounds one export request's body.
const maxExport = 16 << 20

// forwardTimeout bounds the forwarding of one export to a collector.
const forwardTimeout = 5 * time.Second

// Receiver serves OTLP/HTTP's /v1/traces in binary protobuf, as a
// collector does (the OTLP specification's "OTLP/HTTP"): the spans go into
// s and, when forward is a collector's base URL, the request is passed on
// to forward/v1/traces as it came, so that a learner's Jaeger sees every
// component's spans.
func (s *Store) Receiver(forward string, log *slog.Logger) http.Handler {
	client := &http.Client{Timeout: forwardTimeout}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != ReceiverPath {
			http.Error(w, "not found: OTLP/HTTP spans go to "+ReceiverPath, http.StatusNotFound)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed: POST OTLP spans", http.StatusMethodNotAllowed)
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-protobuf" {
			http.Error(w, "unsupported media type: this receiver takes application/x-protobuf", http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxExport+1))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxExport {
			http.Error(w, fmt.Sprintf("export request over %d bytes", maxExport), http.StatusRequestEntityTooLarge)
			return
		}
		raw := body
		if r.Header.Get("Content-Encoding") == "gzip" {
			if body, err = gunzip(body); err != nil {
				http.Error(w, "gzip body: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, "decode ExportTraceServiceRequest: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.Add(fromOTLP(req.GetResourceSpans()))
		if forward != "" {
			if err := forwardExport(r.Context(), client, forward, r.Header, raw); err != nil {
				log.Warn("forward spans to the tracing endpoint", "endpoint", forward, "err", err)
			}
		}
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		// No idle connection between exports: a component exports only
		// while sessions run, and a connection kept open past them would
		// look like what they leaked.
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(resp)
	})
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, maxExport))
}

func forwardExport(ctx context.Context, client *http.Client, base string, h http.Header, body []byte) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.JoinPath(ReceiverPath).String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", h.Get("Content-Type"))
	if enc := h.Get("Content-Encoding"); enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("collector answered %s", resp.Status)
	}
	return nil
}
