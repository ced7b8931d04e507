package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/execlab/execlab/internal/httpserver"
)

// Options are cmd/execlab-gateway's flags: a Config and where to listen.
type Options struct {
	Config
	// Listen is the address to listen on; port 0 picks a free one.
	Listen string
	// CertFile and KeyFile, when set, serve HTTPS: clients send their
	// credentials only to a TLS server (client-go's clientcmd drops a
	// kubeconfig's token and certificate for an http:// server).
	CertFile, KeyFile string
	// CAFile, when set, is the CA that Config.Upstream's certificate is
	// checked against, for the transport ListenAndServe makes.
	CAFile string
}

// ListenAndServe listens, tells ready the gateway's base URL (the prefix
// included), and serves until ctx ends; then it closes every connection,
// those of upgraded sessions too.
func ListenAndServe(ctx context.Context, opts Options, ready func(baseURL string)) error {
	// HTTP/1.1 only, both ways: an upgrade cannot cross HTTP/2.
	upstreamTLS := &tls.Config{NextProtos: []string{"http/1.1"}}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return err
		}
		upstreamTLS.RootCAs = x509.NewCertPool()
		if !upstreamTLS.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no certificate", opts.CAFile)
		}
	}
	opts.Transport = &http.Transport{TLSClientConfig: upstreamTLS, Proxy: http.ProxyFromEnvironment}
	h, err := New(opts.Config)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if opts.CertFile != "" || opts.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
		scheme = "https"
	}
	ready(fmt.Sprintf("%s://%s%s", scheme, ln.Addr(), CleanPrefix(opts.Prefix)))
	return serve(ctx, ln, h)
}

// serve serves h on ln until ctx ends, then closes the connections that
// sessions hijacked (unknown to net/http) and waits for their handlers.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	var conns httpserver.Conns
	refuse := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "the gateway is shutting down", http.StatusServiceUnavailable)
	})
	srv := &http.Server{Handler: conns.Track(h, refuse), ReadHeaderTimeout: 10 * time.Second}
	defer context.AfterFunc(ctx, func() { srv.Close() })()
	err := srv.Serve(ln)
	srv.Close()
	conns.CloseAll()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
