package kubelet

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/emicklei/go-restful/v3"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/proxy"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/execlab/execlab/pkg/streaming"
)

// streamOptions says which streams an exec or attach session has
// (cri-streaming remotecommand.Options).
type streamOptions struct {
	stdin, stdout, stderr, tty bool
}

// newStreamOptions reads input, output, error and tty from the query as
// remotecommand.NewOptions does. Upstream takes only "1" for true; any
// value strconv.ParseBool reads as true is accepted too.
func newStreamOptions(req *http.Request) (*streamOptions, error) {
	q := req.URL.Query()
	flag := func(name string) bool {
		b, err := strconv.ParseBool(q.Get(name))
		return err == nil && b
	}
	opts := &streamOptions{
		stdin:  flag(v1.ExecStdinParam),
		stdout: flag(v1.ExecStdoutParam),
		stderr: flag(v1.ExecStderrParam),
		tty:    flag(v1.ExecTTYParam),
	}
	// A terminal merges stderr into stdout.
	if opts.tty && opts.stderr {
		opts.stderr = false
	}
	if !opts.stdin && !opts.stdout && !opts.stderr {
		return nil, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	return opts, nil
}

// execParams are the path and query of an exec or attach request.
type execParams struct {
	podNamespace, podName, containerName string
	podUID                               types.UID
	cmd                                  []string
}

func getExecParams(req *restful.Request) execParams {
	return execParams{
		podNamespace:  req.PathParameter("podNamespace"),
		podName:       req.PathParameter("podID"),
		podUID:        types.UID(req.PathParameter("uid")),
		containerName: req.PathParameter("containerName"),
		cmd:           req.Request.URL.Query()[v1.ExecCommandParam],
	}
}

// getExec asks the runtime for an exec session and proxies the client's
// upgraded connection to it (server.go getExec).
func (s *server) getExec(req *restful.Request, resp *restful.Response) {
	params := getExecParams(req)
	opts, err := newStreamOptions(req.Request)
	if err != nil {
		streaming.WriteStatus(resp.ResponseWriter, http.StatusBadRequest, err.Error())
		return
	}
	pod := s.k.podByName(params.podNamespace, params.podName)
	if pod == nil {
		streaming.WriteStatus(resp.ResponseWriter, http.StatusNotFound, "pod does not exist")
		return
	}
	ctx := req.Request.Context()
	u, err := s.k.getExec(ctx, pod, params, opts)
	if err != nil {
		streaming.WriteError(resp.ResponseWriter, err)
		return
	}
	s.proxyStream(resp.ResponseWriter, req.Request, u, opts)
}

// getAttach is getExec for the container's main process.
func (s *server) getAttach(req *restful.Request, resp *restful.Response) {
	params := getExecParams(req)
	opts, err := newStreamOptions(req.Request)
	if err != nil {
		streaming.WriteStatus(resp.ResponseWriter, http.StatusBadRequest, err.Error())
		return
	}
	pod := s.k.podByName(params.podNamespace, params.podName)
	if pod == nil {
		streaming.WriteStatus(resp.ResponseWriter, http.StatusNotFound, "pod does not exist")
		return
	}
	u, err := s.k.getAttach(req.Request.Context(), pod, params, opts)
	if err != nil {
		streaming.WriteError(resp.ResponseWriter, err)
		return
	}
	s.proxyStream(resp.ResponseWriter, req.Request, u, opts)
}

// getPortForward asks the runtime for a port-forward session on the pod's
// sandbox. WebSocket clients name the ports in the query; SPDY clients
// name them per stream, and a WebSocket tunnelling SPDY does the same.
func (s *server) getPortForward(req *restful.Request, resp *restful.Response) {
	namespace, name := req.PathParameter("podNamespace"), req.PathParameter("podID")
	uid := types.UID(req.PathParameter("uid"))
	tunnel := wsstream.IsWebSocketRequestWithTunnelingProtocol(req.Request)
	var ports []int32
	if !tunnel {
		var err error
		if ports, err = portForwardPorts(req.Request); err != nil {
			streaming.WriteStatus(resp.ResponseWriter, http.StatusBadRequest, err.Error())
			return
		}
	}
	pod := s.k.podByName(namespace, name)
	if pod == nil {
		streaming.WriteStatus(resp.ResponseWriter, http.StatusNotFound, "pod does not exist")
		return
	}
	if uid != "" && pod.UID != uid {
		streaming.WriteStatus(resp.ResponseWriter, http.StatusNotFound, "pod not found")
		return
	}
	u, err := s.k.getPortForward(req.Request.Context(), pod, ports)
	if err != nil {
		streaming.WriteError(resp.ResponseWriter, err)
		return
	}
	var handler http.Handler = proxy.NewUpgradeAwareHandler(u, runtimeTransport, false, true, &responder{s.k})
	if tunnel {
		handler = translator.NewTunnelingHandler(handler)
	}
	handler.ServeHTTP(resp.ResponseWriter, req.Request)
}

// portForwardPorts reads the ports of a WebSocket port-forward request
// (cri-streaming portforward.NewV4Options); SPDY requests carry none.
func portForwardPorts(req *http.Request) ([]int32, error) {
	if !wsstream.IsWebSocketRequest(req) {
		return nil, nil
	}
	values := req.URL.Query()[v1.PortHeader]
	if len(values) == 0 {
		return nil, fmt.Errorf("query parameter %q is required", v1.PortHeader)
	}
	var ports []int32
	for _, value := range values {
		if len(value) == 0 {
			return nil, fmt.Errorf("query parameter %q cannot be empty", v1.PortHeader)
		}
		for _, p := range strings.Split(value, ",") {
			port, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("unable to parse %q as a port: %v", value, err)
			}
			if port < 1 {
				return nil, fmt.Errorf("port %q must be > 0", value)
			}
			ports = append(ports, int32(port))
		}
	}
	return ports, nil
}

// proxyStream hands the client's connection to the runtime's streaming
// server. A WebSocket v5 client is translated to SPDY here, as a kubelet
// with ExtendWebSocketsToKubelet does for an apiserver that passes it
// through.
func (s *server) proxyStream(w http.ResponseWriter, req *http.Request, u *url.URL, opts *streamOptions) {
	var handler http.Handler = proxy.NewUpgradeAwareHandler(u, runtimeTransport, false, true, &responder{s.k})
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(req) {
		handler = translator.NewStreamTranslatorHandler(u, nil, 0, translator.Options{
			Stdin:  opts.stdin,
			Stdout: opts.stdout,
			Stderr: opts.stderr,
			Tty:    opts.tty,
		})
	}
	handler.ServeHTTP(w, req)
}

// responder answers proxy failures with a Status: a 500, or the code of an
// API error such as the 400 for a request that is no upgrade.
type responder struct{ k *Kubelet }

func (r *responder) Error(w http.ResponseWriter, req *http.Request, err error) {
	r.k.log.Error("error while proxying request", "path", req.URL.Path, "err", err)
	code := http.StatusInternalServerError
	if st, ok := err.(apierrors.APIStatus); ok {
		code = int(st.Status().Code)
	}
	streaming.WriteStatus(w, code, err.Error())
}
