package streaming

import (
	"regexp"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8}$`)

// FuzzTokenCache runs the token cache through arbitrary sequences of
// inserts, lookups and clock steps, against a plain map of what it should
// hold: each token is 8 base64url characters, unique among live ones, and
// answers its request exactly once within the TTL and never after it; an
// insert fails exactly when maxInFlight tokens are live.
// Each op is two bytes: what to do, and an argument.
func FuzzTokenCache(f *testing.F) {
	f.Fuzz(func(t *testing.T, ops []byte) {
		clock := clocktesting.NewFakePassiveClock(time.Unix(0, 0))
		c := newTokenCache(clock)
		type entry struct {
			req     int
			expires time.Time
		}
		model := map[string]entry{}
		var issued []string
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%4, ops[i+1]
			switch op {
			case 0: // insert
				live := 0
				for _, e := range model {
					if !clock.Now().After(e.expires) {
						live++
					}
				}
				token, err := c.Insert(i)
				if full := live >= maxInFlight; full != (err != nil) || full && err != errTooManyInFlight {
					t.Fatalf("op %d: insert with %d live: %v", i, live, err)
				}
				if err != nil {
					continue
				}
				if !tokenPattern.MatchString(token) {
					t.Fatalf("op %d: token %q", i, token)
				}
				if e, live := model[token]; live && !clock.Now().After(e.expires) {
					t.Fatalf("op %d: token %q handed out twice", i, token)
				}
				model[token] = entry{req: i, expires: clock.Now().Add(tokenTTL)}
				issued = append(issued, token)
			case 1, 2: // consume an issued token, or one never issued
				token := "unknown" + string(rune('a'+arg%26))
				if op == 1 && len(issued) > 0 {
					token = issued[int(arg)%len(issued)]
				}
				got, ok := c.Consume(token)
				e, live := model[token]
				want := live && !clock.Now().After(e.expires)
				if ok != want || ok && got != e.req {
					t.Fatalf("op %d: Consume(%q) = %v, %v; want %v, %v", i, token, got, ok, e.req, want)
				}
				delete(model, token)
			case 3: // let time pass: arg seconds, up to past the TTL
				clock.SetTime(clock.Now().Add(time.Duration(arg) * time.Second / 2))
			}
			if len(c.byToken) != c.byAge.Len() {
				t.Fatalf("op %d: %d tokens indexed, %d by age", i, len(c.byToken), c.byAge.Len())
			}
		}
	})
}
