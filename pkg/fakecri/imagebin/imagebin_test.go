package imagebin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/execlab/execlab/internal/testutil"
)

// TestMain lets a test run this binary as imagebin, as fake-cri runs it.
func TestMain(m *testing.M) {
	if os.Getenv(ProgramEnv) != "" {
		os.Exit(Main(os.Args))
	}
	os.Exit(m.Run())
}

// program is one run of a program of imagebin.
type program struct {
	cmd            *exec.Cmd
	stdout, stderr testutil.SyncBuffer
	done           chan struct{}
	err            error
}

// start runs the program name with argv and the environment env, as fake-cri
// starts it; it is killed when the test ends.
func start(t *testing.T, name string, env []string, argv ...string) *program {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &program{cmd: &exec.Cmd{Path: self, Args: argv, Env: append(env, ProgramEnv+"="+name, "GORACE=atexit_sleep_ms=0")}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait returns the program's exit code.
func (p *program) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%v still runs; stdout %q, stderr %q", p.cmd.Args, p.stdout.String(), p.stderr.String())
	}
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		return exitErr.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

func (p *program) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// get GETs url once the server answers, and returns the response's status,
// Server header and body.
func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, resp.Header.Get("Server"), string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUnknownProgram(t *testing.T) {
	p := start(t, "nosuch", nil, "x")
	if code := p.wait(t); code != 127 || p.stderr.String() != "imagebin: no program \"nosuch\"\n" {
		t.Errorf("exit %d, stderr %q", code, p.stderr.String())
	}
	if Has("nosuch") || !Has("nginx:12003") || !Has("agnhost") {
		t.Error("Has answers wrongly")
	}
}

func TestAgnhostEntrypointTester(t *testing.T) {
	p := start(t, "agnhost", nil, "/agnhost-2", "entrypoint-tester", "a", "b")
	if code := p.wait(t); code != 0 || p.stdout.String() != "[/agnhost-2 entrypoint-tester a b]\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, p.stdout.String(), p.stderr.String())
	}
}

func TestAgnhostPause(t *testing.T) {
	for sig, want := range map[syscall.Signal]int{syscall.SIGTERM: 2, syscall.SIGINT: 1} {
		p := start(t, "agnhost", nil, "/agnhost", "pause")
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.stdout.String(), "Paused\n"); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("pause printed %q", p.stdout.String())
			}
		}
		p.signal(t, sig)
		if code := p.wait(t); code != want {
			t.Errorf("%v: exit %d, want %d", sig, code, want)
		}
	}
}

func TestAgnhostUnknownSubcommand(t *testing.T) {
	// Upstream's agnhost ignores cobra's error, and so exits 0.
	p := start(t, "agnhost", nil, "/agnhost", "nosuch")
	if code := p.wait(t); code != 0 || !strings.Contains(p.stderr.String()+p.stdout.String(), `unknown command "nosuch" for "app"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, p.stdout.String(), p.stderr.String())
	}
}

func TestAgnhostLogsGenerator(t *testing.T) {
	p := start(t, "agnhost", nil, "/agnhost", "logs-generator", "--log-lines-total", "5", "--run-duration", "250ms")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, p.stderr.String())
	}
	line := regexp.MustCompile(`^I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ \S+\.go:\d+\] (\d) (GET|POST|PUT) /api/v1/namespaces/(kube-system|default|ns)/pods/[a-z0-9]{3,4} \d{3}$`)
	lines := strings.Split(strings.TrimSuffix(p.stderr.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines: %q", len(lines), p.stderr.String())
	}
	for i, l := range lines {
		if m := line.FindStringSubmatch(l); m == nil || m[1] != strconv.Itoa(i) {
			t.Errorf("line %d: %q", i, l)
		}
	}
}

func TestAgnhostPortForwardTester(t *testing.T) {
	port := testutil.FreePort(t)
	p := start(t, "agnhost", []string{"BIND_ADDRESS=127.0.0.1", "BIND_PORT=" + strconv.Itoa(port), "EXPECTED_CLIENT_DATA=abc",
		"CHUNKS=2", "CHUNK_SIZE=5", "CHUNK_INTERVAL=10"}, "/agnhost", "port-forward-tester")
	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if conn, err = net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	defer conn.Close()
	fmt.Fprint(conn, "abc")
	got, _ := io.ReadAll(conn)
	if code := p.wait(t); code != 0 || string(got) != "xxxxxxxxxx" ||
		p.stdout.String() != "Accepted client connection\nReceived expected client data\nShutting down connection\nDone\n" {
		t.Errorf("exit %d, read %q, stdout %q", code, got, p.stdout.String())
	}
}

func TestAgnhostNetexec(t *testing.T) {
	httpPort, udpPort := testutil.FreePort(t), testutil.FreePort(t)
	p := start(t, "agnhost", []string{"HOSTNAME=pod-a"}, "/agnhost", "netexec", "--http-port", strconv.Itoa(httpPort), "--udp-port", strconv.Itoa(udpPort))
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _, _ := get(t, base+"/healthz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("netexec never got healthy")
		}
	}
	for path, want := range map[string]string{
		"/hostname":             "pod-a",
		"/echo?msg=hi":          "hi",
		"/shell?cmd=echo%20out": `{"output":"out\n"}` + "\n",
	} {
		if code, _, body := get(t, base+path); code != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want %q", path, code, body, want)
		}
	}
	var dial map[string][]string
	_, _, body := get(t, base+"/dial?request=hostname&protocol=udp&host=127.0.0.1&port="+strconv.Itoa(udpPort))
	if err := json.Unmarshal([]byte(body), &dial); err != nil || len(dial["responses"]) != 1 || dial["responses"][0] != "pod-a" {
		t.Errorf("dial over UDP: %q", body)
	}
	// As upstream's agnhost, netexec may exit before /exit's answer is
	// written (timeout defaults to 0), so the answer is not awaited or retried.
	if resp, err := http.Get(base + "/exit?code=3"); err == nil {
		resp.Body.Close()
	}
	if code := p.wait(t); code != 3 {
		t.Errorf("exit %d after /exit?code=3", code)
	}
}

func TestAgnhostServeHostnameAndPorter(t *testing.T) {
	port := testutil.FreePort(t)
	start(t, "agnhost", []string{"HOSTNAME=pod-b"}, "/agnhost", "serve-hostname", "--port", strconv.Itoa(port))
	if code, _, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/"); code != 200 || body != "pod-b" {
		t.Errorf("serve-hostname: %d %q", code, body)
	}
	port = testutil.FreePort(t)
	start(t, "agnhost", []string{"SERVE_PORT_" + strconv.Itoa(port) + "=foo"}, "/agnhost", "porter")
	if code, _, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/"); code != 200 || body != "foo" {
		t.Errorf("porter: %d %q", code, body)
	}
}

func TestNginx(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	p := start(t, "nginx-entrypoint:"+port, []string{"NGINX_VERSION=1.29.8"}, "/docker-entrypoint.sh", "nginx", "-g", "daemon off;")
	base := "http://127.0.0.1:" + port
	if code, server, body := get(t, base+"/"); code != 200 || server != "nginx/1.29.8" || !strings.Contains(body, "<title>Welcome to nginx!</title>") {
		t.Errorf("GET /: %d, Server %q, %q", code, server, body)
	}
	if code, _, body := get(t, base+"/nope"); code != 404 || !strings.Contains(body, "<center><h1>404 Not Found</h1></center>") {
		t.Errorf("GET /nope: %d %q", code, body)
	}
	p.signal(t, syscall.SIGQUIT)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d on SIGQUIT", code)
	}
	out := p.stdout.String()
	if !strings.HasPrefix(out, "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration\n") ||
		!regexp.MustCompile(`\n127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /nope HTTP/1\.1" 404 \d+ "-" "Go-http-client/1\.1" "-"\n$`).MatchString(out) {
		t.Errorf("stdout %q", out)
	}
	if errOut := p.stderr.String(); !strings.Contains(errOut, "] "+strconv.Itoa(p.cmd.Process.Pid)+"#"+strconv.Itoa(p.cmd.Process.Pid)+": nginx/1.29.8\n") ||
		!strings.Contains(errOut, "signal 3 (SIGQUIT) received, shutting down\n") {
		t.Errorf("stderr %q", errOut)
	}

	// Another command, the entrypoint runs: the host's echo here.
	p = start(t, "nginx-entrypoint", []string{"PATH=/usr/bin:/bin"}, "/docker-entrypoint.sh", "echo", "hi")
	if code := p.wait(t); code != 0 || p.stdout.String() != "hi\n" {
		t.Errorf("exit %d, stdout %q", code, p.stdout.String())
	}
}

func TestHttpd(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	p := start(t, "httpd-foreground:"+port, []string{"HTTPD_VERSION=2.4.68"}, "httpd-foreground")
	if code, server, body := get(t, "http://127.0.0.1:"+port+"/"); code != 200 || server != "Apache/2.4.68 (Unix)" ||
		body != "<html><body><h1>It works!</h1></body></html>\n" {
		t.Errorf("GET /: %d, Server %q, %q", code, server, body)
	}
	p.signal(t, syscall.SIGWINCH)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d on SIGWINCH", code)
	}
	if errOut := p.stderr.String(); !strings.Contains(errOut, "AH00094: Command line: 'httpd -DFOREGROUND'\n") ||
		!strings.Contains(errOut, "AH00492: caught SIGWINCH, shutting down gracefully\n") {
		t.Errorf("stderr %q", errOut)
	}
	if !regexp.MustCompile(`^127\.0\.0\.1 - - \[[^]]+\] "GET / HTTP/1\.1" 200 45\n$`).MatchString(p.stdout.String()) {
		t.Errorf("stdout %q", p.stdout.String())
	}
}
