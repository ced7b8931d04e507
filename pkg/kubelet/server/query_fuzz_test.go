package server

import (
	"net/http"
	"net/url"
	"testing"
)

// FuzzStreamOptions feeds the kubelet's exec and attach query parsing
// arbitrary queries: no panic, and what it accepts asks for a stream and
// never for stderr on a terminal.
func FuzzStreamOptions(f *testing.F) {
	for _, seed := range []string{
		"command=ls&input=1&output=1&error=1",
		"output=1&tty=1&error=1",
		"output=true&error=FALSE",
		"input=maybe&output=",
		"command=%ff&output=1&output=0",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req := &http.Request{URL: &url.URL{RawQuery: raw}}
		opts, err := newStreamOptions(req)
		if err != nil {
			return
		}
		if !opts.Stdin && !opts.Stdout && !opts.Stderr {
			t.Fatalf("%q accepted without a stream", raw)
		}
		if opts.TTY && opts.Stderr {
			t.Fatalf("%q accepted stderr on a terminal", raw)
		}
	})
}
