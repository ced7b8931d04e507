package upgradeproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/proxy"

	"github.com/execlab/execlab/internal/testutil"
)

// TestSessionEndPassesOn replays the race this package closes: the backend
// writes its last bytes and closes with the client's bytes unread (so that
// its kernel answers them with a reset) while the proxy is slow to pass
// those last bytes on. The client-to-backend copy then fails first; the
// client must still get every byte the backend sent.
func TestSessionEndPassesOn(t *testing.T) {
	defer testutil.CheckGoroutines(t)
	const last = "exit status\n"
	backend := listen(t)
	go func() {
		c, err := backend.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			t.Error(err)
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		// The client's first byte says the proxy copies both ways; more
		// follow every few milliseconds, left unread.
		if _, err := br.ReadByte(); err != nil {
			t.Error(err)
			return
		}
		io.WriteString(c, last)
		time.Sleep(20 * time.Millisecond)
	}()

	u := &url.URL{Scheme: "http", Host: backend.Addr().String()}
	handler := proxy.NewUpgradeAwareHandler(u, &http.Transport{DialContext: Dial((&net.Dialer{}).DialContext)}, false, true, responder{t})
	front := listen(t)
	srv := &http.Server{Handler: handler}
	go srv.Serve(slowListener{front})
	defer srv.Close()

	c, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: backend\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
	stdin := make(chan struct{})
	go func() {
		defer close(stdin)
		for {
			if _, err := io.WriteString(c, "x"); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, _ := io.ReadAll(c)
	c.Close()
	<-stdin
	if !strings.HasPrefix(string(got), "HTTP/1.1 101 ") || !strings.HasSuffix(string(got), "\r\n\r\n"+last) {
		t.Errorf("the client read %q, want the 101 and then %q", got, last)
	}
}

// TestWriteAfterLocalClose checks that only the backend's going is
// forgiven: the proxy's own close still ends its copy.
func TestWriteAfterLocalClose(t *testing.T) {
	ln := listen(t)
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	c, err := Dial((&net.Dialer{}).DialContext)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Write([]byte("ab")); n != 2 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	c.Close()
	if _, err := c.Write([]byte("c")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v, want net.ErrClosed", err)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// slowListener's connections take half a second over each write: a proxy
// whose way to the client is slower than the backend's end.
type slowListener struct{ net.Listener }

func (l slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return slowConn{c}, nil
}

type slowConn struct{ net.Conn }

func (c slowConn) Write(p []byte) (int, error) {
	time.Sleep(500 * time.Millisecond)
	return c.Conn.Write(p)
}

type responder struct{ t *testing.T }

func (r responder) Error(_ http.ResponseWriter, _ *http.Request, err error) {
	r.t.Errorf("proxy: %v", err)
}
