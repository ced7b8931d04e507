package streaming

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// servePortForwardWebSocket serves port-forward over WebSocket, as
// cri-streaming's portforward/websocket.go: channel 2n carries the data of
// the n-th port and 2n+1 its errors; each first carries the port as a
// little-endian uint16. The ports are the CRI request's, else the "port"
// query parameters a kubelet would have parsed into it.
func (s *Server) servePortForwardWebSocket(w http.ResponseWriter, r *http.Request, req *runtimeapi.PortForwardRequest) {
	ports := req.Port
	if len(ports) == 0 {
		var err error
		if ports, err = QueryPorts(r.URL.Query()); err != nil {
			writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
			return
		}
	}
	channels := make([]wsstream.ChannelType, 0, 2*len(ports))
	for range ports {
		channels = append(channels, wsstream.ReadWriteChannel, wsstream.WriteChannel)
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		"":                         {Binary: true, Channels: channels},
		"v4.channel.k8s.io":        {Binary: true, Channels: channels},
		"v4.base64.channel.k8s.io": {Binary: false, Channels: channels},
	})
	conn.SetIdleTimeout(s.cfg.StreamIdleTimeout)
	hw := newHijackNotifier(w)
	name, streams, err := conn.Open(hw, r)
	if err != nil {
		s.log.Info("Port forward not started", "err", fmt.Errorf("unable to upgrade websocket connection: %w", err))
		return
	}
	forget, ok := s.conns.Add(conn)
	if !ok {
		_ = conn.Close()
		return
	}
	ctx, cancel := untilClosed(r.Context(), hw.closed)
	streamsReady(ctx, name, "websocket")

	var forwards sync.WaitGroup
	for i, port := range ports {
		data, errorStream := streams[2*i], streams[2*i+1]
		portBytes := binary.LittleEndian.AppendUint16(nil, uint16(port))
		_, _ = data.Write(portBytes)
		_, _ = errorStream.Write(portBytes)
		forwards.Go(func() {
			_ = s.forwardPort(ctx, req.PodSandboxId, port, data, errorStream)
			_ = data.Close()
			_ = errorStream.Close()
		})
	}
	forwards.Wait()
	_ = conn.Close()
	forget()
	cancel()
}

// QueryPorts parses the "port" query parameters, each a port or a
// comma-separated list, as upstream's portforward.NewV4Options.
func QueryPorts(q url.Values) ([]int32, error) {
	values := q[v1.PortHeader]
	if len(values) == 0 {
		return nil, fmt.Errorf("query parameter %q is required", v1.PortHeader)
	}
	var ports []int32
	for _, value := range values {
		if value == "" {
			return nil, fmt.Errorf("query parameter %q cannot be empty", v1.PortHeader)
		}
		for p := range strings.SplitSeq(value, ",") {
			port, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("unable to parse %q as a port: %w", value, err)
			}
			if port < 1 {
				return nil, fmt.Errorf("port %q must be > 0", value)
			}
			ports = append(ports, int32(port))
		}
	}
	return ports, nil
}
