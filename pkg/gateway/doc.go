// Package gateway is the URL-mapping gateway that multi-tenant platforms
// put in front of a cluster's apiserver, small enough to read: a tenant's
// clients use http://gateway/tenants/T/clusters/C/… and the gateway sends
// what follows the prefix on to the apiserver, as an nginx location with
// proxy_pass or a Spring controller that redirects does. The labs
// (docs/labs) run it between kubectl and the stack to show what each way
// of mapping does to exec: a proxy passes SPDY and WebSocket upgrades on
// (if it copies the Upgrade headers, as httputil.ReverseProxy does); a
// redirect sends every request elsewhere, which a client follows for plain
// requests (a 302 turning a POST into a GET, a 307 keeping it) and never
// for an upgrade; and a gateway that refuses WebSocket upgrades makes
// kubectl fall back to SPDY.
//
// cmd/execlab-gateway is its binary. The files:
//
//	gateway.go  Config, Mode, New: the modes and the request log
//	serve.go    Options, ListenAndServe: HTTP or HTTPS, the transport to the
//	            apiserver, hijacked connections closed on stop
package gateway
