package kubelet

import (
	"strings"
	"sync"
	"time"
)

// backOff is the per-key exponential back-off of k8s.io/client-go/util/flowcontrol
// (Backoff), which the kubelet uses for crash loops and image pulls: the
// delay starts at initial, doubles on each failure up to max, and is
// forgotten after twice max without failures.
type backOff struct {
	mu      sync.Mutex
	initial time.Duration
	max     time.Duration
	now     func() time.Time
	entries map[string]*backOffEntry
}

type backOffEntry struct {
	backoff    time.Duration
	lastUpdate time.Time
}

func newBackOff(initial, max time.Duration) *backOff {
	return &backOff{initial: initial, max: max, now: time.Now, entries: map[string]*backOffEntry{}}
}

// Get returns the current delay for id, 0 if none.
func (b *backOff) Get(id string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[id]; ok {
		return e.backoff
	}
	return 0
}

// Next records a failure at eventTime, starting or doubling the delay.
func (b *backOff) Next(id string, eventTime time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[id]
	if !ok || b.expired(e, eventTime) {
		e = &backOffEntry{backoff: b.initial}
		b.entries[id] = e
	} else {
		e.backoff = min(2*e.backoff, b.max)
	}
	e.lastUpdate = eventTime
}

// IsInBackOffSince reports whether less than the delay has passed since
// eventTime, the failure being waited out (a container's finish time).
func (b *backOff) IsInBackOffSince(id string, eventTime time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[id]
	if !ok || b.expired(e, eventTime) {
		return false
	}
	return b.now().Sub(eventTime) < e.backoff
}

// IsInBackOffSinceUpdate reports whether less than the delay has passed
// since the last recorded failure.
func (b *backOff) IsInBackOffSinceUpdate(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[id]
	now := b.now()
	if !ok || b.expired(e, now) {
		return false
	}
	return now.Sub(e.lastUpdate) < e.backoff
}

// DeletePrefix forgets every key starting with prefix (a pod's keys).
func (b *backOff) DeletePrefix(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id := range b.entries {
		if strings.HasPrefix(id, prefix) {
			delete(b.entries, id)
		}
	}
}

func (b *backOff) expired(e *backOffEntry, eventTime time.Time) bool {
	return eventTime.Sub(e.lastUpdate) > 2*b.max
}
