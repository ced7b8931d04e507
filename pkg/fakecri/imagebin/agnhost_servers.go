package imagebin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// listenAddr is where a server of port listens on the fake.
func listenAddr(port int) string {
	return net.JoinHostPort(listenHost, strconv.Itoa(port))
}

// agnhostNetexec is agnhost's netexec (test/images/agnhost/netexec): an
// HTTP server of small endpoints and a UDP server that answers hostname,
// echo and clientip. Left out: /upload and SCTP.
func agnhostNetexec(code *int) *cobra.Command {
	n := &netexec{}
	cmd := &cobra.Command{
		Use:   "netexec",
		Short: "Creates HTTP(S), UDP, and (optionally) SCTP servers with various endpoints",
		Args:  cobra.MaximumNArgs(0),
		Run:   func(*cobra.Command, []string) { *code = n.run() },
	}
	f := cmd.Flags()
	f.IntVar(&n.httpPort, "http-port", 8080, "HTTP Listen Port")
	f.StringVar(&n.certFile, "tls-cert-file", "", "File containing an x509 certificate for HTTPS. (CA cert, if any, concatenated after server cert)")
	f.StringVar(&n.keyFile, "tls-private-key-file", "", "File containing an x509 private key matching --tls-cert-file")
	f.IntVar(&n.udpPort, "udp-port", 8081, "UDP Listen Port")
	f.IntVar(&n.sctpPort, "sctp-port", -1, "SCTP Listen Port (not on the fake runtime)")
	f.StringVar(&n.httpOverride, "http-override", "", "Override the HTTP handler to always respond as if it were a GET with this path & params")
	f.StringVar(&n.udpAddresses, "udp-listen-addresses", "", "A comma separated list of ip addresses the udp servers listen from")
	return cmd
}

type netexec struct {
	httpPort, udpPort, sctpPort int
	certFile, keyFile           string
	httpOverride, udpAddresses  string
	// ready: a UDP server serves, which /healthz reports.
	ready atomic.Bool
	exit  chan shutdown
}

// shutdown is what /exit asks: an exit code, after a graceful stop of at
// most timeout.
type shutdown struct {
	code    int
	timeout time.Duration
}

func (n *netexec) run() int {
	if n.sctpPort != -1 {
		log.Printf("SCTP is not supported on the fake runtime; not serving --sctp-port %d", n.sctpPort)
	}
	n.exit = make(chan shutdown, 1)
	mux := http.NewServeMux()
	n.routes(mux)
	var handler http.Handler = mux
	if n.httpOverride != "" {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			override, err := http.NewRequestWithContext(r.Context(), http.MethodGet, n.httpOverride, nil)
			if err != nil {
				http.Error(w, fmt.Sprintf("override request failed: %v", err), http.StatusInternalServerError)
				return
			}
			override.RemoteAddr = r.RemoteAddr
			mux.ServeHTTP(w, override)
		})
	}
	if n.udpPort != -1 {
		addrs := []string{listenHost}
		if n.udpAddresses != "" {
			addrs = strings.Split(n.udpAddresses, ",")
		}
		for _, a := range addrs {
			if net.ParseIP(a) == nil {
				log.Fatalf("parseAddress: invalid address %s", a)
			}
			go n.serveUDP(a)
		}
	}
	srv := &http.Server{Addr: listenAddr(n.httpPort), Handler: handler}
	log.Printf("Started HTTP server on port %d", n.httpPort)
	errc := make(chan error, 1)
	go func() {
		if n.certFile != "" {
			errc <- srv.ListenAndServeTLS(n.certFile, n.keyFile)
		} else {
			errc <- srv.ListenAndServe()
		}
	}()
	select {
	case err := <-errc:
		log.Print(err)
		return 1
	case req := <-n.exit:
		ctx, cancel := context.WithTimeout(context.Background(), req.timeout)
		defer cancel()
		log.Printf("Graceful shutdown completed with: %v", srv.Shutdown(ctx))
		return req.code
	}
}

func (n *netexec) routes(mux *http.ServeMux) {
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		log.Printf("GET /")
		fmt.Fprintf(w, "NOW: %v", time.Now())
	})
	mux.HandleFunc("/clientip", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("GET /clientip")
		fmt.Fprint(w, r.RemoteAddr)
	})
	mux.HandleFunc("/dial", dialHandler)
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		msg, codeString := r.FormValue("msg"), r.FormValue("code")
		log.Printf("GET /echo?msg=%s&code=%s", msg, codeString)
		if codeString != "" {
			code, err := strconv.Atoi(codeString)
			if err != nil {
				fmt.Fprintf(w, "argument 'code' must be an integer or empty, got %q\n", codeString)
				return
			}
			w.WriteHeader(code)
		}
		fmt.Fprint(w, msg)
	})
	mux.HandleFunc("/exit", n.exitHandler)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		log.Printf("GET /healthz")
		if !n.ready.Load() {
			w.WriteHeader(http.StatusPreconditionFailed)
		}
	})
	for _, path := range []string{"/hostname", "/hostName"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			log.Printf("GET %s", path)
			fmt.Fprint(w, hostname())
		})
	}
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		location, codeString := r.FormValue("location"), r.FormValue("code")
		log.Printf("%s /redirect?msg=%s&code=%s", r.Method, location, codeString)
		code := http.StatusFound
		if codeString != "" {
			var err error
			if code, err = strconv.Atoi(codeString); err != nil {
				fmt.Fprintf(w, "argument 'code' must be an integer or empty, got %q\n", codeString)
				return
			}
		}
		http.Redirect(w, r, location, code)
	})
	mux.HandleFunc("/shell", shellHandler)
	mux.HandleFunc("/shutdown", func(http.ResponseWriter, *http.Request) {
		log.Printf("GET /shutdown")
		select {
		case n.exit <- shutdown{}:
		default: // already exiting
		}
	})
}

// exitHandler ends netexec with ?code= once ?wait= has passed, letting
// connections close for ?timeout=.
func (n *netexec) exitHandler(w http.ResponseWriter, r *http.Request) {
	waitString, timeoutString, codeString := r.FormValue("wait"), r.FormValue("timeout"), r.FormValue("code")
	log.Printf("GET /exit?code=%s&timeout=%s&wait=%s", codeString, timeoutString, waitString)
	timeout, err := time.ParseDuration(timeoutString)
	if err != nil && timeoutString != "" {
		fmt.Fprintf(w, "argument 'timeout' must be a valid golang duration or empty, got %q\n", timeoutString)
		return
	}
	wait, err := time.ParseDuration(waitString)
	if err != nil && waitString != "" {
		fmt.Fprintf(w, "argument 'wait' must be a valid golang duration or empty, got %q\n", waitString)
		return
	}
	code, err := strconv.Atoi(codeString)
	if err != nil && codeString != "" {
		fmt.Fprintf(w, "argument 'code' must be an integer [0-127] or empty, got %q\n", codeString)
		return
	}
	log.Printf("Will begin shutdown in %s, allowing %s for connections to close, then will exit with %d", wait, timeout, code)
	time.Sleep(wait)
	select {
	case n.exit <- shutdown{code: code, timeout: timeout}:
	default: // already exiting
	}
}

// serveUDP answers "hostname", "echo <msg>" and "clientip" on address.
func (n *netexec) serveUDP(address string) {
	conn, err := net.ListenPacket("udp", net.JoinHostPort(address, strconv.Itoa(n.udpPort)))
	if err != nil {
		log.Fatalf("Error occurred: failed to create listener for UDP address %s:%v", address, err)
	}
	defer conn.Close()
	log.Printf("Started UDP server on port %s %d", address, n.udpPort)
	n.ready.Store(true)
	defer n.ready.Store(false)
	buf := make([]byte, 2048)
	for {
		k, client, err := conn.ReadFrom(buf)
		if err != nil {
			log.Fatalf("Error occurred: failed accepting UDP connections:%v", err)
		}
		text := strings.ToLower(strings.TrimSpace(string(buf[:k])))
		var reply string
		switch {
		case text == "hostname":
			reply = hostname()
		case strings.HasPrefix(text, "echo "):
			reply = strings.TrimPrefix(text, "echo ")
		case text == "clientip":
			reply = client.String()
		default:
			if text != "" {
				log.Printf("Unknown UDP command received from %s: %v\n", client, text)
			}
			continue
		}
		conn.WriteTo([]byte(reply), client)
	}
}

// dialHandler makes ?tries= requests of ?request= to ?host=:?port= over
// ?protocol= (http or udp) and answers what came back, as JSON.
func dialHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	host, port, request, protocol := q.Get("host"), q.Get("port"), q.Get("request"), q.Get("protocol")
	log.Printf("GET /dial?host=%s&protocol=%s&port=%s&request=%s&tries=%s", host, protocol, port, request, q.Get("tries"))
	tries := 1
	if t := q.Get("tries"); t != "" {
		var err error
		if tries, err = strconv.Atoi(t); err != nil {
			http.Error(w, fmt.Sprintf("tries parameter is invalid. %v", err), http.StatusBadRequest)
			return
		}
	}
	if request == "" {
		http.Error(w, "request parameter not specified. <nil>", http.StatusBadRequest)
		return
	}
	var dial func(request, hostPort string) (string, error)
	switch strings.ToLower(protocol) {
	case "", "http":
		dial = dialHTTP
	case "udp":
		dial = dialUDP
	default:
		http.Error(w, "unsupported protocol. "+protocol, http.StatusBadRequest)
		return
	}
	var responses, errs []string
	for range tries {
		resp, err := dial(request, net.JoinHostPort(host, port))
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			responses = append(responses, resp)
		}
	}
	out := map[string][]string{}
	if len(responses) > 0 {
		out["responses"] = responses
	}
	if len(errs) > 0 {
		out["errors"] = errs
	}
	json.NewEncoder(w).Encode(out)
}

func dialHTTP(request, hostPort string) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + hostPort + "/" + request)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func dialUDP(request, hostPort string) (string, error) {
	conn, err := net.Dial("udp", hostPort)
	if err != nil {
		return "", fmt.Errorf("udp dial failed. err:%v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(request)); err != nil {
		return "", fmt.Errorf("udp connection write failed. err:%v", err)
	}
	buf := make([]byte, 2048)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, err := conn.Read(buf)
	if err != nil || k == 0 {
		return "", fmt.Errorf("reading from udp connection failed. err:'%v'", err)
	}
	return string(buf[:k]), nil
}

// shellHandler runs ?cmd= (or ?shellCommand=) with /bin/sh -c: the host's
// shell on the fake.
func shellHandler(w http.ResponseWriter, r *http.Request) {
	cmd := r.FormValue("shellCommand")
	if cmd == "" {
		cmd = r.FormValue("cmd")
	}
	log.Printf("GET /shell?cmd=%s", cmd)
	out, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput()
	result := map[string]string{}
	if len(out) > 0 {
		result["output"] = string(out)
	}
	if err != nil {
		result["error"] = err.Error()
	}
	json.NewEncoder(w).Encode(result)
}

// agnhostPorter serves each environment variable SERVE_PORT_N (or
// SERVE_TCP_PORT_N) over HTTP on port N and SERVE_UDP_PORT_N over UDP, the
// variable's value being the answer (test/images/agnhost/porter). TLS and
// SCTP ports are not served on the fake.
func agnhostPorter() *cobra.Command {
	var jsonResponse bool
	cmd := &cobra.Command{
		Use:   "porter",
		Short: "Serves requested data on ports specified in ENV variables",
		Args:  cobra.MaximumNArgs(0),
		Run: func(*cobra.Command, []string) {
			for _, kv := range os.Environ() {
				key, value, _ := strings.Cut(kv, "=")
				switch {
				case strings.HasPrefix(key, "SERVE_PORT_"), strings.HasPrefix(key, "SERVE_TCP_PORT_"):
					port := key[strings.LastIndex(key, "_")+1:]
					go servePorterHTTP(port, value, jsonResponse)
				case strings.HasPrefix(key, "SERVE_UDP_PORT_"):
					go servePorterUDP(strings.TrimPrefix(key, "SERVE_UDP_PORT_"), value)
				case strings.HasPrefix(key, "SERVE_TLS_PORT_"), strings.HasPrefix(key, "SERVE_SCTP_PORT_"):
					log.Printf("%s: TLS and SCTP ports are not served on the fake runtime", key)
				}
			}
			select {}
		},
	}
	cmd.Flags().BoolVar(&jsonResponse, "json-response", false, "Responds to requests with a json response that includes the default value with the http.Request Method")
	return cmd
}

func servePorterHTTP(port, value string, asJSON bool) {
	srv := &http.Server{Addr: net.JoinHostPort(listenHost, port), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asJSON {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(struct{ Method, Body string }{r.Method, value})
			return
		}
		fmt.Fprint(w, value)
	})}
	log.Printf("server on port %q failed: %v", port, srv.ListenAndServe())
}

func servePorterUDP(port, value string) {
	conn, err := net.ListenPacket("udp", net.JoinHostPort(listenHost, port))
	if err != nil {
		log.Fatalf("UDP: failed to listen on port %s: %v", port, err)
	}
	defer conn.Close()
	log.Printf("Started UDP server on port %s", port)
	buf := make([]byte, 16)
	for {
		_, client, err := conn.ReadFrom(buf)
		if err != nil {
			log.Printf("UDP: error from ReadFrom(): %v", err)
			return
		}
		conn.WriteTo([]byte(value), client)
	}
}

// agnhostServeHostname answers the pod's host name over HTTP (or raw TCP or
// UDP) on --port; on SIGTERM it waits a minute for the pod's deletion, as
// upstream's does (test/images/agnhost/serve-hostname).
func agnhostServeHostname(code *int) *cobra.Command {
	var doTCP, doUDP, doHTTP, doClose bool
	var port int
	cmd := &cobra.Command{
		Use:   "serve-hostname",
		Short: "Serves the hostname",
		Args:  cobra.MaximumNArgs(0),
		Run: func(*cobra.Command, []string) {
			if doHTTP && (doTCP || doUDP) {
				log.Printf("Can't server TCP/UDP mode and HTTP mode at the same time")
				*code = 1
				return
			}
			name, addr := hostname(), listenAddr(port)
			errc := make(chan error, 3)
			if doTCP {
				go func() { errc <- serveHostnameTCP(addr, name) }()
			}
			if doUDP {
				go func() { errc <- serveHostnameUDP(addr, name) }()
			}
			if doHTTP {
				go func() {
					errc <- http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						log.Printf("HTTP request from %s", r.RemoteAddr)
						if doClose {
							w.Header().Add("Connection", "close")
						}
						fmt.Fprint(w, name)
					}))
				}()
			}
			log.Printf("Serving on port %d.\n", port)
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, syscall.SIGTERM)
			select {
			case err := <-errc:
				log.Print(err)
				*code = 1
			case sig := <-sigs:
				log.Printf("Shutting down after receiving signal: %s.\n", sig)
				log.Printf("Awaiting pod deletion.\n")
				time.Sleep(time.Minute)
			}
		},
	}
	f := cmd.Flags()
	f.BoolVar(&doTCP, "tcp", false, "Serve raw over TCP.")
	f.BoolVar(&doUDP, "udp", false, "Serve raw over UDP.")
	f.BoolVar(&doHTTP, "http", true, "Serve HTTP.")
	f.BoolVar(&doClose, "close", false, "Close connection per each HTTP request.")
	f.IntVar(&port, "port", 9376, "Port number.")
	return cmd
}

func serveHostnameTCP(addr, name string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		log.Printf("TCP request from %s", conn.RemoteAddr())
		conn.Write([]byte(name))
		conn.Close()
	}
}

func serveHostnameUDP(addr, name string) error {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	buf := make([]byte, 16)
	for {
		_, client, err := conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		log.Printf("UDP request from %s", client)
		conn.WriteTo([]byte(name), client)
	}
}

// agnhostTestWebserver serves the files under / on --port
// (test/images/agnhost/test-webserver): on the fake, the host's.
func agnhostTestWebserver(code *int) *cobra.Command {
	var port int
	cmd := &cobra.Command{
		Use:   "test-webserver",
		Short: "Starts a simple HTTP fileserver",
		Args:  cobra.MaximumNArgs(0),
		Run: func(*cobra.Command, []string) {
			files := http.StripPrefix("/", http.FileServer(http.Dir("/")))
			err := http.ListenAndServe(listenAddr(port), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "private")
				w.Header().Set("Access-Control-Allow-Origin", "*")
				r.Header.Del("If-Modified-Since")
				files.ServeHTTP(w, r)
			}))
			if !errors.Is(err, http.ErrServerClosed) {
				log.Print(err)
				*code = 1
			}
		},
	}
	cmd.Flags().IntVar(&port, "port", 80, "Port number.")
	return cmd
}
