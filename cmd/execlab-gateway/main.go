// Command execlab-gateway is the URL-mapping gateway of the labs
// (pkg/gateway), in front of the apiserver on a loopback port. It prints
// its base URL on stdout once it listens, and logs a line per request on
// stderr.
//
//	execlab-gateway [--mode proxy|redirect|no-websocket] [--redirect-code 302]
//	                [--prefix /tenants/acme/clusters/demo] [--listen 127.0.0.1:0]
//	                [--upstream $APISERVER] [--ca-file $CACERT]
//	                [--tls-cert-file FILE --tls-private-key-file FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/execlab/execlab/pkg/gateway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "execlab-gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	opts := gateway.Options{Config: gateway.Config{Log: os.Stderr}}
	flag.StringVar((*string)(&opts.Mode), "mode", string(gateway.Proxy), "proxy (the prefix taken off), redirect, or no-websocket (proxy, but WebSocket upgrades get 403)")
	flag.IntVar(&opts.RedirectCode, "redirect-code", http.StatusFound, "the status of --mode redirect: 301, 302, 303, 307 or 308")
	flag.StringVar(&opts.Prefix, "prefix", "/tenants/acme/clusters/demo", "the path clients put before the apiserver's paths")
	flag.StringVar(&opts.Listen, "listen", "127.0.0.1:0", "address to listen on (port 0: a free one)")
	flag.StringVar(&opts.CertFile, "tls-cert-file", "", "serve HTTPS with this certificate (default: plain HTTP)")
	flag.StringVar(&opts.KeyFile, "tls-private-key-file", "", "key of --tls-cert-file")
	upstream := flag.String("upstream", os.Getenv("APISERVER"), "the apiserver's URL (default $APISERVER)")
	flag.StringVar(&opts.CAFile, "ca-file", os.Getenv("CACERT"), "CA of the apiserver's certificate (default $CACERT)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	var err error
	if opts.Upstream, err = url.Parse(*upstream); err != nil || opts.Upstream.Host == "" {
		return fmt.Errorf("--upstream %q: want the apiserver's URL", *upstream)
	}
	return gateway.ListenAndServe(ctx, opts, func(baseURL string) { fmt.Println(baseURL) })
}
