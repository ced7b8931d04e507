package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/execlab/execlab/pkg/tracing"
)

// passthroughNote finds out, rather than assumes, what a WebSocket v5 exec
// that our apiserver passes through speaks at our streaming server: an
// exec through that way, then the session's hops as the apiserver's live
// view (/ui/api/sessions) recorded them. The kubelet translates it to SPDY
// today; a native path would show v5 there.
func (b *bench) passthroughNote(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	s := b.ours.passthrough
	t, err := b.ours.target(viaAPIServerWSPassthrough)
	if err == nil {
		_, err = execTrue(ctx, t)
	}
	var proto, transport string
	if err == nil {
		proto, transport, err = streamingProtocol(ctx, s.stack.APIServer.URL, s.stack.HTTPClient())
	}
	note := "Ours, WebSocket v5 passed through at the apiserver: "
	switch {
	case err != nil:
		note += fmt.Sprintf("what our streaming server spoke is unknown (%v).", err)
	case transport == "websocket":
		note += fmt.Sprintf("our streaming server spoke %s over %s: WebSocket end to end, native.", proto, transport)
	default:
		note += fmt.Sprintf("our streaming server spoke %s over %s: our kubelet translates, as the upstream kubelet (ExtendWebSocketsToKubelet) does; not native end to end.", proto, transport)
	}
	b.notes = append(b.notes, note)
}

// streamingProtocol reads the newest session of the apiserver's live view
// and returns what its streaming hop spoke, waiting for the spans to come
// in.
func streamingProtocol(ctx context.Context, apiserver string, client *http.Client) (string, string, error) {
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var sessions []tracing.Session
		if last = getJSON(ctx, client, apiserver+tracing.UIPath+"api/sessions", &sessions); last != nil {
			continue
		}
		if len(sessions) == 0 {
			last = fmt.Errorf("no session in %sapi/sessions", tracing.UIPath)
			continue
		}
		var d tracing.SessionDetail
		if last = getJSON(ctx, client, apiserver+tracing.UIPath+"api/sessions/"+sessions[0].TraceID, &d); last != nil {
			continue
		}
		for _, h := range d.Hops {
			if h.Hop == tracing.HopStreaming && h.Protocol != "" {
				return h.Protocol, h.Transport, nil
			}
		}
		last = fmt.Errorf("session %s has no streaming hop yet", sessions[0].TraceID)
	}
	return "", "", last
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
