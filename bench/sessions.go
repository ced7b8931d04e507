package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Idle sessions: many sessions open at once, each an interactive command
// waiting on its stdin, what they cost each server while they are open,
// and whether everything goes back to how it was once they close.

// idleMeasure is one reading of a chain's servers around idle sessions.
type idleMeasure struct {
	procs      map[string]procSample
	goroutines map[string]int
	heap       map[string]int64
	children   int // the runtime's live child processes
	client     procSample
	memAvail   int64
}

func measureIdle(ctx context.Context, procs []*proc, withHeap bool) (idleMeasure, error) {
	m := idleMeasure{procs: map[string]procSample{}, goroutines: map[string]int{}, heap: map[string]int64{}, memAvail: memAvailable()}
	for _, p := range procs {
		s, err := sampleAll(p.pid)
		if err != nil {
			return m, err
		}
		m.procs[p.role] = s
		if m.goroutines[p.role], err = p.goroutines(ctx); err != nil {
			return m, err
		}
		if withHeap {
			if m.heap[p.role], err = p.heap(ctx); err != nil {
				return m, err
			}
		}
		if p.role == "runtime" {
			m.children = children(p.pid)
		}
	}
	var err error
	m.client, err = sampleAll(os.Getpid())
	return m, err
}

// idleResult is one round of idle sessions through one chain.
type idleResult struct {
	asked, opened, failed int
	openErr               error
	openTime              time.Duration
	base, during, after   idleMeasure
	closeTime             time.Duration
	closeBad              int
	closeErr              error
	// leak says what did not go back to its baseline; empty when all did.
	leak string
}

// perSession is what each open session costs a server, in fds, or in
// total across servers.
func (r idleResult) fdsPerSession(role string) float64 {
	during, base := r.during.procs[role], r.base.procs[role]
	if role == clientRole {
		during, base = r.during.client, r.base.client
	}
	return float64(during.FDs-base.FDs) / float64(max(r.opened, 1))
}

func (r idleResult) memPerSession() float64 {
	return float64(r.base.memAvail-r.during.memAvail) / float64(max(r.opened, 1))
}

// idleRound opens n idle sessions through t, measures, closes them, and
// checks for leaks.
func (b *bench) idleRound(ctx context.Context, t *target, n int) (res idleResult, err error) {
	res.asked = n
	if res.base, err = measureIdle(ctx, t.procs, true); err != nil {
		return res, err
	}
	start := time.Now()
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The sessions live on octx; opening them is bounded apart.
	openCtx, openCancel := context.WithTimeout(octx, time.Duration(n)*50*time.Millisecond+time.Minute)
	stop := context.AfterFunc(openCtx, func() {
		if openCtx.Err() == context.DeadlineExceeded {
			cancel()
		}
	})
	sessions, failed, openErr := openIdle(octx, t, n, b.cfg.setupConcurrency)
	stop()
	openCancel()
	res.opened, res.failed, res.openErr, res.openTime = len(sessions), failed, openErr, time.Since(start)
	// Let what the set-up left settle: timers, the last writes.
	time.Sleep(time.Second)
	during, merr := measureIdle(ctx, t.procs, true)
	res.during = during
	start = time.Now()
	res.closeBad, res.closeErr = closeIdle(sessions, 2*time.Minute)
	cancel()
	if merr != nil {
		return res, merr
	}
	res.leak, res.after = waitBaseline(ctx, t.procs, res.base, 30*time.Second)
	res.closeTime = time.Since(start)
	return res, nil
}

// waitBaseline polls until every server's fds and the runtime's commands,
// then its goroutines, are back to base (a little slack for the servers'
// own background work), or limit passes; it returns what is not. The fds
// come first: they are cheap to read, where a goroutine profile of
// thousands of sessions stops the world and would slow their teardown.
func waitBaseline(ctx context.Context, procs []*proc, base idleMeasure, limit time.Duration) (string, idleMeasure) {
	const slack = 3
	deadline := time.Now().Add(limit)
	for {
		var off []string
		m := idleMeasure{procs: map[string]procSample{}, goroutines: map[string]int{}}
		for _, p := range procs {
			s, err := sampleAll(p.pid)
			if err != nil {
				off = append(off, err.Error())
				continue
			}
			m.procs[p.role] = s
			if d := s.FDs - base.procs[p.role].FDs; d > slack {
				off = append(off, fmt.Sprintf("%s +%d fds", p.role, d))
			}
			if p.role == "runtime" {
				if d := children(p.pid) - base.children; d > 0 {
					off = append(off, fmt.Sprintf("%d commands still running", d))
				}
			}
		}
		if len(off) == 0 {
			for _, p := range procs {
				g, err := p.goroutines(ctx)
				if err != nil {
					off = append(off, err.Error())
					continue
				}
				m.goroutines[p.role] = g
				if d := g - base.goroutines[p.role]; d > slack {
					off = append(off, fmt.Sprintf("%s +%d goroutines", p.role, d))
				}
			}
		}
		if len(off) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return strings.Join(off, ", "), m
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sessionLimits caps a round's sessions at what the machine allows: the
// open files each server may hold (RLIMIT_NOFILE, which no process here
// may raise past its hard limit) and the memory, from what an earlier
// round cost per session. It returns the count and why it is lower.
func sessionLimits(n int, earlier *idleResult) (int, string) {
	if earlier == nil || earlier.opened == 0 {
		return n, ""
	}
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	capped, why := n, ""
	for _, role := range append(slices.Clone(roles), clientRole) {
		per := earlier.fdsPerSession(role)
		if per <= 0 {
			continue
		}
		base := earlier.base.procs[role].FDs
		if role == clientRole {
			base = earlier.base.client.FDs
		}
		room := int(float64(int(lim.Max)-base-64) / per)
		if room < capped {
			capped = room
			why = fmt.Sprintf("the %s holds %.1f fds per session and may open %d", role, per, lim.Max)
		}
	}
	if per := earlier.memPerSession(); per > 0 {
		if room := int(0.7 * float64(memAvailable()) / per); room < capped {
			capped = room
			why = fmt.Sprintf("%.0f KiB of the machine's memory per session", per/1024)
		}
	}
	return capped, why
}

// sessions runs the idle-session rows: each count over SPDY, then over
// WebSocket, through the whole chain, ours then upstream's. Each round
// runs on chains started afresh, so that what a server measures is what
// the round's sessions cost, not memory an earlier round left it.
func (b *bench) sessions(ctx context.Context) {
	earlier := map[string]*idleResult{}
	var rounds []struct {
		w way
		n int
	}
	for _, n := range b.cfg.sessions {
		rounds = append(rounds, struct {
			w way
			n int
		}{viaAPIServerSPDY, n})
	}
	for _, n := range b.cfg.wsSessions {
		rounds = append(rounds, struct {
			w way
			n int
		}{viaAPIServerWSTranslated, n})
	}
	for _, round := range rounds {
		n, w := round.n, round.w
		if ctx.Err() != nil {
			return
		}
		// One count for both columns, the lower of what each allows.
		count, why := n, ""
		for _, col := range []string{colOurs, colUpstream} {
			if c, y := sessionLimits(n, earlier[col+w.String()]); c < count {
				count, why = c, fmt.Sprintf("%s: %s", col, y)
			}
		}
		label := fmt.Sprintf("%d idle sessions via %s", n, w)
		if count < n {
			label = fmt.Sprintf("%d (of %d asked) idle sessions via %s", count, n, w)
			b.notes = append(b.notes, fmt.Sprintf("%d idle sessions via %s: %d, as many as the machine allows (%s).", n, w, count, why))
		}
		rss := b.t.add(newRow(label+": RSS per session, all servers", "KiB", 0))
		heap := b.t.add(newRow(label+": live heap per session, all servers", "KiB", 0))
		gor := b.t.add(newRow(label+": goroutines per session, all servers (apiserver / kubelet / runtime)", "", 1))
		leak := b.t.add(newRow(label+": after they close, goroutines, fds and commands back to baseline", "", 0))
		if err := b.stopChains(); err != nil {
			rss.fail(colOurs, err.Error())
		}
		if err := b.startChains(ctx); err != nil {
			rss.fail(colOurs, err.Error())
			return
		}
		for _, col := range []string{colOurs, colUpstream} {
			t, err := b.cols[col].target(w)
			if err != nil {
				rss.fail(col, err.Error())
				continue
			}
			res, err := b.idleRound(ctx, t, count)
			// What the client kept of the sessions would count against the
			// next round's memory.
			debug.FreeOSMemory()
			b.logf("%s, %s: %d opened, %d failed in %v; closed in %v", label, col, res.opened, res.failed,
				res.openTime.Round(time.Millisecond), res.closeTime.Round(time.Millisecond))
			if err != nil {
				rss.fail(col, err.Error())
				continue
			}
			if res.failed > 0 || res.opened < count {
				rss.fail(col, fmt.Sprintf("%d of %d sessions failed to open: %v", count-res.opened, count, res.openErr))
			}
			if res.closeBad > 0 {
				leak.fail(col, fmt.Sprintf("%d sessions did not end cleanly: %v", res.closeBad, res.closeErr))
			}
			if res.leak != "" {
				leak.fail(col, res.leak)
			}
			key := col + w.String()
			if earlier[key] == nil {
				earlier[key] = &res
			}
			per := float64(max(res.opened, 1))
			var rssSum, heapSum int64
			var gs []string
			gsum := 0
			for _, role := range roles {
				rssSum += res.during.procs[role].RSS - res.base.procs[role].RSS
				heapSum += res.during.heap[role] - res.base.heap[role]
				g := res.during.goroutines[role] - res.base.goroutines[role]
				gsum += g
				gs = append(gs, fmt.Sprintf("%.1f", float64(g)/per))
			}
			rss.cell(col).vals = []float64{float64(rssSum) / 1024 / per}
			heap.cell(col).vals = []float64{float64(heapSum) / 1024 / per}
			gor.cell(col).vals = []float64{float64(gsum) / per}
			gor.cell(col).text = "(" + strings.Join(gs, " / ") + ")"
			if !leak.cell(col).failed {
				leak.cell(col).text = "yes"
			}
			var fds, rssBy []string
			for _, role := range roles {
				fds = append(fds, fmt.Sprintf("%s %.1f", role, res.fdsPerSession(role)))
				rssBy = append(rssBy, fmt.Sprintf("%s %.0f", role, float64(res.during.procs[role].RSS-res.base.procs[role].RSS)/1024/per))
			}
			b.details = append(b.details, fmt.Sprintf("| %s | %s | opened %d in %.1f s, closed in %.1f s; RSS KiB per session: %s; fds per session: %s; client RSS %.0f KiB per session; machine memory %.0f KiB per session | | | | |",
				label, col, res.opened, res.openTime.Seconds(), res.closeTime.Seconds(), strings.Join(rssBy, ", "), strings.Join(fds, ", "),
				float64(res.during.client.RSS-res.base.client.RSS)/1024/per, res.memPerSession()/1024))
		}
	}
}
