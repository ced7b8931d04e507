package testutil

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// SPDYDialer dials rawURL with client-go's SPDY round tripper for config,
// as kubectl port-forward does (POST, SPDY/3.1).
func SPDYDialer(t testing.TB, config *rest.Config, rawURL string) httpstream.Dialer {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	transport, upgrader, err := spdy.RoundTripperFor(config)
	if err != nil {
		t.Fatal(err)
	}
	return spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
}

// PortForward forwards a free local port on 127.0.0.1 to remotePort through
// dialer with client-go's port forwarder, and returns the local address.
// The forward stops when the test ends, and must stop without error.
func PortForward(t testing.TB, dialer httpstream.Dialer, remotePort int) string {
	t.Helper()
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(remotePort)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("ForwardPorts: %v", err)
	}
	t.Cleanup(func() {
		close(stop)
		if err := <-done; err != nil {
			t.Errorf("ForwardPorts: %v", err)
		}
	})
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local)))
}

// EchoThrough sends n random bytes through addr, which must lead to an
// echo server, and checks that the same bytes come back within a minute.
func EchoThrough(addr string, n int) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	sent := make([]byte, n)
	rand.Read(sent)
	writeErr := make(chan error, 1)
	go func() {
		_, err := conn.Write(sent)
		writeErr <- err
	}()
	got := make([]byte, n)
	if _, err := io.ReadFull(conn, got); err != nil {
		return fmt.Errorf("echo of %d bytes: read back: %w", n, err)
	}
	if err := <-writeErr; err != nil {
		return fmt.Errorf("echo of %d bytes: write: %w", n, err)
	}
	if !bytes.Equal(got, sent) {
		return fmt.Errorf("echo of %d bytes: came back different", n)
	}
	return nil
}
