package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/httpstream"

	"github.com/execlab/execlab/internal/httpserver"
)

// Mode is what the gateway does with a request under its prefix.
type Mode string

const (
	// Proxy sends the request on to the apiserver, the prefix taken off,
	// upgrades included (httputil.ReverseProxy copies the Upgrade and
	// Connection headers of an upgrade and splices the connections after
	// the 101).
	Proxy Mode = "proxy"
	// Redirect answers with a redirect (Config.RedirectCode) to the same
	// path on the apiserver, as a controller answering RedirectView does.
	Redirect Mode = "redirect"
	// NoWebSocket proxies as Proxy but refuses WebSocket upgrades with a
	// 403, as gateways and firewalls that do not allow WebSocket do: SPDY
	// upgrades pass.
	NoWebSocket Mode = "no-websocket"
)

// Config says where the gateway sends what.
type Config struct {
	// Prefix is the path the tenant's clients put before the apiserver's
	// paths, such as /tenants/acme/clusters/demo; requests outside it get
	// 404.
	Prefix string
	// Upstream is the apiserver's base URL.
	Upstream *url.URL
	// Transport reaches Upstream: it trusts the apiserver's CA. It must
	// speak HTTP/1.1, the only HTTP that upgrades.
	Transport http.RoundTripper
	Mode      Mode
	// RedirectCode is Redirect's status: 301, 302, 303, 307 or 308.
	RedirectCode int
	// Log receives one line per request: method, path, and what the
	// gateway did; an upgrade's as the 101 passes, before the session
	// runs, others' once answered.
	Log io.Writer
}

// New is the gateway's handler.
func New(cfg Config) (http.Handler, error) {
	cfg.Prefix = CleanPrefix(cfg.Prefix)
	switch cfg.Mode {
	case Proxy, NoWebSocket:
	case Redirect:
		switch cfg.RedirectCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return nil, fmt.Errorf("redirect code %d: want 301, 302, 303, 307 or 308", cfg.RedirectCode)
		}
	default:
		return nil, fmt.Errorf("unknown mode %q: want %s, %s or %s", cfg.Mode, Proxy, Redirect, NoWebSocket)
	}
	if cfg.Upstream == nil {
		return nil, errors.New("no upstream")
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	g := &gateway{cfg: cfg}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(cfg.Upstream)
			r.Out.URL.Path, r.Out.URL.RawPath = g.upstreamPath(r.In.URL)
			r.SetXForwarded()
		},
		Transport: cfg.Transport,
		// Watches and logs stream: pass each write on at once.
		FlushInterval:  -1,
		ModifyResponse: g.logUpgrade,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "the gateway cannot reach the apiserver ("+err.Error()+")", http.StatusBadGateway)
		},
	}
	return g, nil
}

type gateway struct {
	cfg   Config
	proxy *httputil.ReverseProxy
	logMu sync.Mutex
}

// logged marks a request whose line logUpgrade wrote.
type logged struct {
	r    *http.Request
	done bool
}

type loggedKey struct{}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httpserver.Record(w)
	entry := &logged{}
	r = r.WithContext(context.WithValue(r.Context(), loggedKey{}, entry))
	entry.r = r
	did := g.serve(rec, r)
	if !entry.done {
		g.log(r, rec.Status(), did)
	}
}

// logUpgrade logs a switch of protocols as it passes to the client, not
// once the session is over: the client (kubectl exec) may be gone, and
// the reader of the log on to the next thing, before the proxy's copies
// have ended.
func (g *gateway) logUpgrade(res *http.Response) error {
	entry, ok := res.Request.Context().Value(loggedKey{}).(*logged)
	if !ok || res.StatusCode != http.StatusSwitchingProtocols {
		return nil
	}
	g.log(entry.r, res.StatusCode, g.proxied(entry.r))
	entry.done = true
	return nil
}

func (g *gateway) log(r *http.Request, status int, did string) {
	g.logMu.Lock()
	defer g.logMu.Unlock()
	fmt.Fprintf(g.cfg.Log, "%s %s -> %d%s\n", r.Method, r.URL.Path, status, did)
}

// serve answers r and says what it did beyond the status, for the log.
func (g *gateway) serve(w http.ResponseWriter, r *http.Request) string {
	if r.URL.Path != g.cfg.Prefix && !strings.HasPrefix(r.URL.Path, g.cfg.Prefix+"/") {
		http.Error(w, fmt.Sprintf("the gateway serves nothing outside %s", g.cfg.Prefix), http.StatusNotFound)
		return ""
	}
	switch {
	case g.cfg.Mode == Redirect:
		to := *g.cfg.Upstream
		to.Path, to.RawPath = g.upstreamPath(r.URL)
		to.RawQuery = r.URL.RawQuery
		http.Redirect(w, r, to.String(), g.cfg.RedirectCode)
		return " " + to.String()
	case g.cfg.Mode == NoWebSocket && isWebSocket(r):
		// Plain words, no "key: value": client-go reads a refusal's body as
		// a Status when it decodes as one, and YAML would.
		http.Error(w, "this gateway refuses WebSocket upgrades", http.StatusForbidden)
		return " (WebSocket refused)"
	}
	g.proxy.ServeHTTP(w, r)
	return g.proxied(r)
}

// proxied says where r went upstream, and as what upgrade.
func (g *gateway) proxied(r *http.Request) string {
	path, _ := g.upstreamPath(r.URL)
	if httpstream.IsUpgradeRequest(r) {
		return " from " + path + " (upgrade: " + r.Header.Get("Upgrade") + ")"
	}
	return " from " + path
}

// upstreamPath is u's path with the prefix taken off, escaped and not.
func (g *gateway) upstreamPath(u *url.URL) (path, rawPath string) {
	path = "/" + strings.TrimPrefix(strings.TrimPrefix(u.Path, g.cfg.Prefix), "/")
	if u.RawPath != "" {
		rawPath = "/" + strings.TrimPrefix(strings.TrimPrefix(u.RawPath, g.cfg.Prefix), "/")
	}
	return path, rawPath
}

// CleanPrefix is prefix as the gateway matches it: one leading slash and
// no trailing one, or empty for none.
func CleanPrefix(prefix string) string {
	if p := strings.Trim(prefix, "/"); p != "" {
		return "/" + p
	}
	return ""
}

func isWebSocket(r *http.Request) bool {
	return httpstream.IsUpgradeRequest(r) && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
