package kubelet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podWorkers runs one goroutine per pod, as pkg/kubelet/pod_workers.go:
// the syncs of one pod are serial, pods do not wait for each other (a
// slow stop with a long grace period holds up only its own pod).
// Written here on purpose, small: how a kubelet serialises each pod's
// syncs is the lesson, and upstream's state machine has no library home.
type podWorkers struct {
	sync    func(ctx context.Context, uid types.UID) (done bool)
	mu      sync.Mutex
	workers map[types.UID]chan struct{}
	wg      sync.WaitGroup
}

func newPodWorkers(sync func(context.Context, types.UID) bool) *podWorkers {
	return &podWorkers{sync: sync, workers: map[types.UID]chan struct{}{}}
}

// signal asks the pod's worker for a sync, starting the worker if needed.
// Signals to a busy worker coalesce into one more sync.
func (p *podWorkers) signal(ctx context.Context, uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.workers[uid]
	if !ok {
		ch = make(chan struct{}, 1)
		p.workers[uid] = ch
		p.wg.Add(1)
		go p.run(ctx, uid, ch)
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (p *podWorkers) run(ctx context.Context, uid types.UID, ch chan struct{}) {
	defer p.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		if p.sync(ctx, uid) {
			// The pod is gone from the API and the runtime. A signal that
			// raced in is dropped; the next resync starts a new worker if
			// anything of the pod reappears.
			p.mu.Lock()
			delete(p.workers, uid)
			p.mu.Unlock()
			return
		}
	}
}

// wait returns once every worker has stopped (after ctx ended).
func (p *podWorkers) wait() { p.wg.Wait() }

// syncLoop wakes every pod's worker on each pod event and every
// SyncFrequency, which is how exits in the runtime are noticed (upstream's
// PLEG relists every second for the same purpose).
func (k *Kubelet) syncLoop(ctx context.Context) {
	defer k.workers.wait()
	ticker := time.NewTicker(k.cfg.SyncFrequency)
	defer ticker.Stop()
	for {
		k.dispatch(ctx)
		// Back-off entries quiet past their reset go, those of deleted
		// pods among them (upstream's HandlePodCleanups).
		k.crashBackOff.GC()
		k.imageBackOff.GC()
		k.lastSyncLoop.Store(time.Now().UnixNano())
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-k.podEvents:
		}
	}
}

// SyncLoopHealthCheck fails when the sync loop has not run for twice the
// sync period, and at least five minutes (upstream's Kubelet.SyncLoopHealthCheck).
func (k *Kubelet) SyncLoopHealthCheck(*http.Request) error {
	limit := max(2*k.cfg.SyncFrequency, 5*time.Minute)
	last := k.lastSyncLoop.Load()
	if last != 0 && time.Since(time.Unix(0, last)) > limit {
		return fmt.Errorf("sync Loop took longer than expected")
	}
	return nil
}

// dispatch signals the workers of every pod bound to the node and of every
// pod the runtime still has sandboxes of ours for: those gone from the API
// (deleted while the kubelet was down) are cleaned up by their workers.
func (k *Kubelet) dispatch(ctx context.Context) {
	uids := sets.New[types.UID]()
	for _, pod := range k.GetPods() {
		uids.Insert(pod.UID)
	}
	sandboxes, err := k.runtime.ListPodSandbox(ctx, nil)
	if err != nil {
		if ctx.Err() == nil {
			k.log.Error("list pod sandboxes", "err", err)
		}
	}
	for _, s := range sandboxes {
		if uid := s.Labels[podUIDLabel]; uid != "" && k.ownsSandbox(s) {
			uids.Insert(types.UID(uid))
		}
	}
	for uid := range uids {
		k.workers.signal(ctx, uid)
	}
}

// ownsSandbox tells whether this kubelet created the sandbox: it makes the
// pod's log directory under its root dir before RunPodSandbox and removes
// it only after the last sandbox is gone, so the directory survives a
// kubelet restart as the mark of its pods. A runtime can serve several
// kubelets (the end-to-end suite runs all its stacks on one containerd),
// and another kubelet's pods are not this one's orphans to remove.
func (k *Kubelet) ownsSandbox(s *runtimeapi.PodSandbox) bool {
	m := s.GetMetadata()
	_, err := os.Stat(podLogsDirectory(k.cfg.RootDir, m.GetNamespace(), m.GetName(), types.UID(m.GetUid())))
	return err == nil
}
