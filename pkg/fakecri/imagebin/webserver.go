package imagebin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// webServer is what the nginx and httpd stand-ins share: one default page
// on the image's port, the server's own 404 page, an access log line per
// request on stdout and the server's notices on stderr, and the signals that
// stop it.
type webServer struct {
	port     string
	header   string // the Server header
	index    string // the page at / and /index.html
	notFound string
	// access formats a request's access log line.
	access func(r *http.Request, status, size int) string
	// bindFailed reports a port that cannot be bound; stopping reports the
	// signal that stops the server.
	bindFailed func(addr string, err error)
	stopping   func(sig os.Signal)
	// graceful lists the signals that let requests in flight finish; the
	// others of stopSignals cut them.
	stopSignals, graceful []os.Signal
}

func (s webServer) run() int {
	addr := net.JoinHostPort(listenHost, s.port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		s.bindFailed(addr, err)
		return 1
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: time.Minute}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, s.stopSignals...)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, err)
		return 1
	case sig := <-sigs:
		s.stopping(sig)
		if slices.Contains(s.graceful, sig) {
			srv.Shutdown(context.Background())
		} else {
			srv.Close()
		}
		return 0
	}
}

func (s webServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, body := http.StatusOK, s.index
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		status, body = http.StatusMethodNotAllowed, ""
	case r.URL.Path != "/" && r.URL.Path != "/index.html":
		status, body = http.StatusNotFound, s.notFound
	}
	w.Header().Set("Server", s.header)
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprint(w, body)
	}
	fmt.Println(s.access(r, status, len(body)))
}

// clientHost is the address part of a request's RemoteAddr.
func clientHost(r *http.Request) string {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return host
}

// quoted is a request header as nginx logs it: "-" when absent.
func quoted(v string) string {
	if v == "" {
		v = "-"
	}
	return `"` + v + `"`
}

// envOr is the environment variable name, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// port is the image's port setting, or def.
func port(setting, def string) string {
	if setting != "" {
		return setting
	}
	return def
}

// nginx stands in for nginx with its images' default configuration: the
// welcome page on port 80 (or the image's setting), the access log on
// stdout and the error log on stderr, as the images link them. It stays in
// the foreground whatever -g says. SIGQUIT (the images' stop signal) stops
// it gracefully, SIGTERM and SIGINT at once, both with status 0.
func nginx(setting string, argv []string) int {
	version := envOr("NGINX_VERSION", "1.29.8")
	pid := os.Getpid()
	notice := func(level, format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s [%s] %d#%d: %s\n", time.Now().Format("2006/01/02 15:04:05"), level, pid, pid, fmt.Sprintf(format, args...))
	}
	args := argv[1:]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-v", "-V":
			fmt.Fprintf(os.Stderr, "nginx version: nginx/%s\n", version)
			return 0
		case "-t", "-T":
			fmt.Fprintln(os.Stderr, "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok")
			fmt.Fprintln(os.Stderr, "nginx: configuration file /etc/nginx/nginx.conf test is successful")
			return 0
		case "-g", "-c", "-p", "-e":
			i++ // a value, accepted and unused
		case "-q":
		case "-s":
			fmt.Fprintln(os.Stderr, `nginx: [error] open() "/run/nginx.pid" failed (2: No such file or directory)`)
			return 1
		default:
			fmt.Fprintf(os.Stderr, "nginx: invalid option: %q\n", strings.TrimPrefix(args[i], "-"))
			return 1
		}
	}
	page := "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n" +
		"<p>The default page of the nginx image, as the execlab fake runtime serves it.</p>\n</body>\n</html>\n"
	notice("notice", `using the "epoll" event method`)
	notice("notice", "nginx/%s", version)
	notice("notice", "start worker processes")
	return webServer{
		port:     port(setting, "80"),
		header:   "nginx/" + version,
		index:    page,
		notFound: "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/" + version + "</center>\r\n</body>\r\n</html>\r\n",
		access: func(r *http.Request, status, size int) string {
			// The images' log_format main.
			return fmt.Sprintf(`%s - - [%s] "%s %s %s" %d %d %s %s %s`, clientHost(r), time.Now().Format("02/Jan/2006:15:04:05 -0700"),
				r.Method, r.RequestURI, r.Proto, status, size, quoted(r.Referer()), quoted(r.UserAgent()), quoted(r.Header.Get("X-Forwarded-For")))
		},
		bindFailed: func(addr string, err error) {
			notice("emerg", "bind() to %s failed (%s)", addr, errnoText(err))
			fmt.Fprintf(os.Stderr, "nginx: [emerg] bind() to %s failed (%s)\n", addr, errnoText(err))
		},
		stopping: func(sig os.Signal) {
			verb := "exiting"
			if sig == syscall.SIGQUIT {
				verb = "shutting down"
			}
			notice("notice", "signal %d (%s) received, %s", sig.(syscall.Signal), unix.SignalName(sig.(syscall.Signal)), verb)
			notice("notice", "exit")
		},
		stopSignals: []os.Signal{syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGINT},
		graceful:    []os.Signal{syscall.SIGQUIT},
	}.run()
}

// nginxEntrypoint stands in for the nginx images' /docker-entrypoint.sh:
// for nginx it logs its configuration steps and runs nginx; any other
// command it executes, from the host's PATH.
func nginxEntrypoint(setting string, argv []string) int {
	args := argv[1:]
	if len(args) == 0 {
		return 0
	}
	if args[0] == "nginx" || args[0] == "nginx-debug" {
		if os.Getenv("NGINX_ENTRYPOINT_QUIET_LOGS") == "" {
			for _, line := range []string{
				"/docker-entrypoint.d/ is not empty, will attempt to perform configuration",
				"Looking for shell scripts in /docker-entrypoint.d/",
				"Configuration complete; ready for start up",
			} {
				fmt.Printf("%s: %s\n", argv[0], line)
			}
		}
		return nginx(setting, args)
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: exec: %s: not found\n", argv[0], args[0])
		return 127
	}
	err = syscall.Exec(path, args, os.Environ())
	fmt.Fprintf(os.Stderr, "%s: exec: %s: %v\n", argv[0], args[0], err)
	return 126
}

// httpd stands in for Apache httpd with its images' configuration: "It
// works!" on port 80, the access log (common format) on stdout and the
// error log on stderr. It stays in the foreground with or without
// -DFOREGROUND. SIGWINCH (the image's stop signal) stops it gracefully,
// SIGTERM and SIGINT at once, both with status 0.
func httpd(setting string, argv []string) int {
	version := "Apache/" + envOr("HTTPD_VERSION", "2.4") + " (Unix)"
	pid := os.Getpid()
	logf := func(module, format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%s] [%s] [pid %d:tid %d] %s\n", time.Now().Format("Mon Jan 02 15:04:05.000000 2006"), module, pid, pid,
			fmt.Sprintf(format, args...))
	}
	args := argv[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-v" || a == "-V":
			fmt.Printf("Server version: %s\n", version)
			return 0
		case a == "-t":
			fmt.Fprintln(os.Stderr, "Syntax OK")
			return 0
		case a == "-D" || a == "-f" || a == "-d" || a == "-C" || a == "-c" || a == "-e" || a == "-k":
			i++ // a value, accepted: the server stays in the foreground
		case strings.HasPrefix(a, "-D"):
		default:
			fmt.Fprintf(os.Stderr, "%s: illegal option -- %s\n", argv[0], strings.TrimPrefix(a, "-"))
			return 1
		}
	}
	for range 2 { // once per reading of the configuration
		fmt.Fprintf(os.Stderr, "AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using %s. "+
			"Set the 'ServerName' directive globally to suppress this message\n", listenHost)
	}
	logf("mpm_event:notice", "AH00489: %s configured -- resuming normal operations", version)
	logf("core:notice", "AH00094: Command line: '%s'", strings.Join(append([]string{"httpd"}, args...), " "))
	return webServer{
		port:     port(setting, "80"),
		header:   version,
		index:    "<html><body><h1>It works!</h1></body></html>\n",
		notFound: "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n",
		access: func(r *http.Request, status, size int) string {
			return fmt.Sprintf(`%s - - [%s] "%s %s %s" %d %d`, clientHost(r), time.Now().Format("02/Jan/2006:15:04:05 -0700"),
				r.Method, r.RequestURI, r.Proto, status, size)
		},
		bindFailed: func(addr string, err error) {
			fmt.Fprintf(os.Stderr, "(%s)%s: AH00072: make_sock: could not bind to address %s\n", errnoNumber(err), errnoMessage(err), addr)
			fmt.Fprintln(os.Stderr, "no listening sockets available, shutting down")
			fmt.Fprintln(os.Stderr, "AH00015: Unable to open logs")
		},
		stopping: func(sig os.Signal) {
			if sig == syscall.SIGWINCH {
				logf("mpm_event:notice", "AH00492: caught SIGWINCH, shutting down gracefully")
				return
			}
			logf("mpm_event:notice", "AH00491: caught SIGTERM, shutting down")
		},
		stopSignals: []os.Signal{syscall.SIGWINCH, syscall.SIGTERM, syscall.SIGINT},
		graceful:    []os.Signal{syscall.SIGWINCH},
	}.run()
}

// httpdForeground is the httpd images' httpd-foreground:
// exec httpd -DFOREGROUND "$@".
func httpdForeground(setting string, argv []string) int {
	return httpd(setting, append([]string{"httpd", "-DFOREGROUND"}, argv[1:]...))
}

// errnoText is an errno as nginx prints it: "98: Address already in use".
func errnoText(err error) string {
	return errnoNumber(err) + ": " + errnoMessage(err)
}

func errnoNumber(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Sprint(int(errno))
	}
	return "0"
}

func errnoMessage(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := errno.Error()
		return strings.ToUpper(msg[:1]) + msg[1:]
	}
	return err.Error()
}
