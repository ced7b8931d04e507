package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestAPIServerKilledMidWrites: 1000 namespaces created by eight client-go
// clients at once while the apiserver is killed with SIGKILL after a random
// number of answered creates. Restarted, it has every namespace whose
// create was answered, byte for byte as the answer (resource version
// included), and none of the others but those in flight at the kill.
func TestAPIServerKilledMidWrites(t *testing.T) {
	t.Parallel()
	s := newStack(t, execlabtest.Options{})
	const clients, objects = 8, 1000
	killAfter := 1 + rand.IntN(objects-1)
	t.Logf("killing the apiserver after %d answered creates", killAfter)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu       sync.Mutex
		answered = map[string][]byte{} // name → the create's answer
		inFlight int                   // creates that failed: maybe written, never answered
		count    atomic.Int64
		killed   = make(chan struct{})
		wg       sync.WaitGroup
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := restClient(t, s)
			for i := c; i < objects; i += clients {
				name := fmt.Sprintf("durable-%04d", i)
				body := fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, name)
				raw, err := rc.Post().AbsPath("/api/v1/namespaces").Body([]byte(body)).Do(ctx).Raw()
				if err != nil {
					mu.Lock()
					inFlight++
					mu.Unlock()
					return // the apiserver is gone
				}
				mu.Lock()
				answered[name] = raw
				mu.Unlock()
				if count.Add(1) == int64(killAfter) {
					s.APIServer.Kill()
					close(killed)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("all creates ended, %d answered, before the kill", count.Load())
	}
	if err := s.Restart(ctx, s.APIServer); err != nil {
		t.Fatal(err)
	}
	rc := restClient(t, s)
	for name, want := range answered {
		got, err := rc.Get().AbsPath("/api/v1/namespaces/" + name).Do(ctx).Raw()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("namespace %s after the restart: %v\n%s\nwant the create's answer\n%s", name, err, got, want)
		}
	}
	present := 0
	for i := range objects {
		name := fmt.Sprintf("durable-%04d", i)
		_, err := rc.Get().AbsPath("/api/v1/namespaces/" + name).Do(ctx).Raw()
		switch {
		case err == nil:
			present++
		case !apierrors.IsNotFound(err):
			t.Errorf("get %s: %v", name, err)
		}
	}
	if present < len(answered) || present > len(answered)+inFlight {
		t.Errorf("%d of our namespaces after the restart; %d were answered and %d in flight", present, len(answered), inFlight)
	}
	t.Logf("%d answered before the kill, all present; %d present of %d in flight", len(answered), present-len(answered), inFlight)
}

// restClient is a client-go REST client of s's apiserver speaking JSON,
// with no client-side rate limit.
func restClient(t *testing.T, s *execlabtest.Stack) rest.Interface {
	t.Helper()
	config := s.RESTConfig()
	config.QPS, config.Burst = -1, 0
	config.ContentType, config.AcceptContentTypes = "application/json", "application/json"
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	return cs.CoreV1().RESTClient()
}
