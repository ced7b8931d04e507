package streaming

import (
	"container/list"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/utils/clock"
)

// The token cache's bounds, as upstream's request_cache.go.
const (
	// tokenTTL is how long a token stays valid after GetExec and friends
	// hand it out.
	tokenTTL = time.Minute
	// maxInFlight is how many tokens may wait to be used at once; past it
	// GetExec and friends answer ResourceExhausted.
	maxInFlight = 1000
	// tokenBytes random bytes encode to exactly 8 base64url characters.
	tokenBytes = 6
)

// errTooManyInFlight is upstream's NewErrorTooManyInFlight (errors.go).
var errTooManyInFlight = status.Error(codes.ResourceExhausted, "maximum number of in-flight requests exceeded")

// tokenCache holds the CRI requests that GetExec, GetAttach and
// GetPortForward accepted, each under a random single-use token that the
// client presents in the URL. It mirrors k8s.io/cri-streaming's
// request_cache.go: the URL carries no request parameters, only the token.
type tokenCache struct {
	clock clock.PassiveClock
	// ttl is tokenTTL, but for pkg/faults' token-expiry.
	ttl time.Duration

	mu      sync.Mutex
	byToken map[string]*list.Element
	// byAge lists entries oldest at the back: the TTL is fixed, so the back
	// is always the next to expire.
	byAge *list.List
}

type tokenEntry struct {
	token   string
	req     any // a cachedRequest
	expires time.Time
}

func newTokenCache(c clock.PassiveClock) *tokenCache {
	return &tokenCache{clock: c, ttl: tokenTTL, byToken: make(map[string]*list.Element), byAge: list.New()}
}

// Insert stores req and returns the token that retrieves it once.
func (c *tokenCache) Insert(req any) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.dropExpired()
	if c.byAge.Len() >= maxInFlight {
		return "", errTooManyInFlight
	}
	token, err := c.newToken()
	if err != nil {
		return "", err
	}
	c.byToken[token] = c.byAge.PushFront(&tokenEntry{token: token, req: req, expires: c.clock.Now().Add(c.ttl)})
	return token, nil
}

// Consume removes token and returns its request, unless the token is
// unknown, already used or expired.
func (c *tokenCache) Consume(token string) (req any, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()

	el, ok := c.byToken[token]
	if !ok {
		return nil, false
	}
	c.remove(el)
	e := el.Value.(*tokenEntry)
	if c.clock.Now().After(e.expires) {
		return nil, false
	}
	return e.req, true
}

// newToken returns a random token not in use. Collisions are rare (2^48
// values) but a reused token would hand one client another's session.
func (c *tokenCache) newToken() (string, error) {
	raw := make([]byte, tokenBytes)
	for range 10 {
		if _, err := rand.Read(raw); err != nil {
			return "", err
		}
		token := base64.RawURLEncoding.EncodeToString(raw)
		if _, taken := c.byToken[token]; !taken {
			return token, nil
		}
	}
	return "", errors.New("failed to generate unique token")
}

// dropExpired removes expired entries, oldest first. c.mu must be held.
func (c *tokenCache) dropExpired() {
	now := c.clock.Now()
	for el := c.byAge.Back(); el != nil && now.After(el.Value.(*tokenEntry).expires); el = c.byAge.Back() {
		c.remove(el)
	}
}

func (c *tokenCache) remove(el *list.Element) {
	c.byAge.Remove(el)
	delete(c.byToken, el.Value.(*tokenEntry).token)
}
