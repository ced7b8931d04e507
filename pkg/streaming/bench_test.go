package streaming

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"io"
	"log/slog"
	"testing"

	apiremotecommand "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/execlab/execlab/pkg/tracing"
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

// benchServer is the server a benchmark runs against: traced as in the
// stack (every session a span, its bytes counted, spans batched to a
// pkg/tracing Store), or not at all, so that what tracing costs the data
// path shows side by side.
func benchServer(b *testing.B, traced bool) *Server {
	cfg := Config{Logger: slog.New(slog.DiscardHandler)}
	if traced {
		tp, err := tracing.New(tracing.Config{Service: "fake-cri", Sink: tracing.NewStore(0)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tp.Shutdown(context.Background()) })
		cfg.TracerProvider = tp.TracerProvider()
	}
	return newConfiguredServer(b, cfg, localRuntime{})
}

// benchmarkThroughput sends 64 MiB through cat per iteration, both ways.
func benchmarkThroughput(b *testing.B, newExecutor func(testing.TB, string) remotecommand.Executor, traced bool) {
	quietKlog()
	s := benchServer(b, traced)
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
func benchmarkSetup(b *testing.B, newExecutor func(testing.TB, string) remotecommand.Executor, traced bool) {
	quietKlog()
	s := benchServer(b, traced)
	b.ReportAllocs()
	for b.Loop() {
		var out byteCounter
		url := execURL(b, s, false, false, true, false, "true")
		if err := newExecutor(b, url).StreamWithContext(testContext(b), remotecommand.StreamOptions{Stdout: &out}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecSPDY(b *testing.B)              { benchmarkThroughput(b, spdyV5, false) }
func BenchmarkExecWebSocket(b *testing.B)         { benchmarkThroughput(b, webSocketExecutor, false) }
func BenchmarkSessionSetupSPDY(b *testing.B)      { benchmarkSetup(b, spdyV5, false) }
func BenchmarkSessionSetupWebSocket(b *testing.B) { benchmarkSetup(b, webSocketExecutor, false) }

// The same, traced: spans are per session, not per frame, so the
// throughput and allocations per op should match the untraced ones.
func BenchmarkExecSPDYTraced(b *testing.B)         { benchmarkThroughput(b, spdyV5, true) }
func BenchmarkExecWebSocketTraced(b *testing.B)    { benchmarkThroughput(b, webSocketExecutor, true) }
func BenchmarkSessionSetupSPDYTraced(b *testing.B) { benchmarkSetup(b, spdyV5, true) }

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
