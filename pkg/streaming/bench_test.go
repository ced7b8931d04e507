package streaming

import (
	"bytes"
	"crypto/rand"
	"flag"
	"io"
	"testing"

	apiremotecommand "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// byteCounter counts what is written to it.
type byteCounter int64

func (w *byteCounter) Write(p []byte) (int, error) {
	*w += byteCounter(len(p))
	return len(p), nil
}

func spdyV5(t testing.TB, url string) remotecommand.Executor {
	return spdyExecutor(t, url, apiremotecommand.StreamProtocolV5Name)
}

// quietKlog drops klog's output for the rest of the run: wsstream logs
// every connection a client closes as an error, burying the figures.
func quietKlog() {
	flags := flag.NewFlagSet("klog", flag.PanicOnError)
	klog.InitFlags(flags)
	flags.Set("logtostderr", "false")
	flags.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}

// benchmarkThroughput sends 64 MiB through cat per iteration, both ways.
func benchmarkThroughput(b *testing.B, newExecutor func(testing.TB, string) remotecommand.Executor) {
	quietKlog()
	s := newTestServer(b, localRuntime{})
	data := make([]byte, 64<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var out byteCounter
		url := execURL(b, s, false, true, true, false, "cat")
		err := newExecutor(b, url).StreamWithContext(testContext(b), remotecommand.StreamOptions{
			Stdin: bytes.NewReader(data), Stdout: &out,
		})
		if err != nil || int(out) != len(data) {
			b.Fatalf("got %d bytes, %v", out, err)
		}
	}
}

// benchmarkSetup runs `true` per iteration: upgrade, streams, process, status.
func benchmarkSetup(b *testing.B, newExecutor func(testing.TB, string) remotecommand.Executor) {
	quietKlog()
	s := newTestServer(b, localRuntime{})
	b.ReportAllocs()
	for b.Loop() {
		var out byteCounter
		url := execURL(b, s, false, false, true, false, "true")
		if err := newExecutor(b, url).StreamWithContext(testContext(b), remotecommand.StreamOptions{Stdout: &out}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecSPDY(b *testing.B)              { benchmarkThroughput(b, spdyV5) }
func BenchmarkExecWebSocket(b *testing.B)         { benchmarkThroughput(b, webSocketExecutor) }
func BenchmarkSessionSetupSPDY(b *testing.B)      { benchmarkSetup(b, spdyV5) }
func BenchmarkSessionSetupWebSocket(b *testing.B) { benchmarkSetup(b, webSocketExecutor) }

// BenchmarkTokens is one GetExec's token and its use: Insert, then Consume.
func BenchmarkTokens(b *testing.B) {
	c := newTokenCache(clock.RealClock{})
	b.ReportAllocs()
	for b.Loop() {
		token, err := c.Insert(nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := c.Consume(token); !ok {
			b.Fatal("token not found")
		}
	}
}
