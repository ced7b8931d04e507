package kubelet

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// reasonCache remembers why each container last failed to start, which the
// status shows as its waiting reason (pkg/kubelet/reason_cache.go).
type reasonCache struct {
	mu sync.Mutex
	m  map[types.UID]map[string]waitingReason
}

type waitingReason struct{ reason, message string }

func (c *reasonCache) set(uid types.UID, container, reason, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[types.UID]map[string]waitingReason{}
	}
	if c.m[uid] == nil {
		c.m[uid] = map[string]waitingReason{}
	}
	c.m[uid][container] = waitingReason{reason, message}
}

func (c *reasonCache) get(uid types.UID, container string) (waitingReason, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[uid][container]
	return r, ok
}

func (c *reasonCache) clear(uid types.UID, container string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m[uid], container)
}

func (c *reasonCache) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, uid)
}
