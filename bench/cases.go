package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/execlab/execlab/bench/payload"
)

// The cases: each section of the table, run column by column in turn
// (ours, upstream, upstream-rt, ours, …) so that noise hits every column.

// bench is one run: its settings, the chains, the table it fills.
type bench struct {
	cfg        config
	payloadBin string
	ours       *ours
	up         *upstream
	// cols are the columns by name.
	cols map[string]column
	t    table
	// details are the per-process figures of each transfer, profiles the
	// top entries of each CPU profile, notes what the run found out about
	// its own labels; all markdown lines.
	details, profiles, notes []string
	// loopback and forkExec are the limits of the throughput and latency
	// rows.
	loopback, forkExec *cell
	start              time.Time
	// dir holds the chains' state, self is this program (the upstream
	// parts), starts counts the chains' starts.
	dir, self string
	starts    int
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

// targets finds the way into each of cols, noting in r why a column has
// none.
func (b *bench) targets(r *row, w way, cols []string) map[string]*target {
	ts := map[string]*target{}
	for _, name := range cols {
		t, err := b.cols[name].target(w)
		if err != nil {
			r.none(name, err.Error())
			continue
		}
		ts[name] = t
	}
	return ts
}

func mib(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// verification checks that the harness catches a transfer that delivers
// fewer bytes and reports success: a command that writes 1 MiB less than
// asked and exits 0.
func (b *bench) verification(ctx context.Context) {
	r := b.t.add(newRow("a command writes 1 MiB less than asked and exits 0 (8 MiB, SPDY via the apiserver): the check catches it", "", 0))
	r.harness = true
	for _, name := range []string{colOurs, colUpstream} {
		t, err := b.cols[name].target(viaAPIServerSPDY)
		if err != nil {
			r.fail(name, err.Error())
			continue
		}
		_, err = stdoutTransfer(ctx, t, b.payloadBin, "short", 8<<20)
		var short shortTransfer
		if errors.As(err, &short) {
			r.cell(name).text = fmt.Sprintf("caught (%d of %d bytes)", short.got.N, short.want.N)
		} else {
			r.fail(name, fmt.Sprintf("not caught: %v", err))
		}
	}
}

// limits measures what no chain can beat: one loopback TCP connection,
// and a fork/exec of true.
func (b *bench) limits(ctx context.Context) {
	size := b.cfg.stdoutSize
	r := b.t.add(newRow(fmt.Sprintf("limit: %s through one loopback TCP connection (128 KiB writes and reads)", mib(size)), "MB/s", 0))
	c := r.cell(colLimit)
	for range b.cfg.reps {
		mbps, err := loopbackTCP(size)
		if err != nil {
			r.fail(colLimit, err.Error())
			break
		}
		c.vals = append(c.vals, mbps)
	}
	b.loopback = c
	b.logf("limit: loopback TCP %.0f MB/s", c.median())

	r = b.t.add(newRow(fmt.Sprintf("limit: fork/exec of `true` (%d runs)", b.cfg.latencyN), "ms", 2))
	var all, reps []float64
	perRep := max(1, b.cfg.latencyN/b.cfg.reps)
	for range b.cfg.reps {
		var xs []float64
		for range perRep {
			start := time.Now()
			if err := exec.CommandContext(ctx, trueCommand[0]).Run(); err != nil {
				r.fail(colLimit, err.Error())
				return
			}
			xs = append(xs, ms(time.Since(start)))
		}
		reps = append(reps, median(xs))
		all = append(all, xs...)
	}
	b.forkExec = latencyCell(reps, all)
	r.cells[colLimit] = b.forkExec
	b.logf("limit: fork/exec %.2f ms", b.forkExec.median())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latencyCell(repMedians, all []float64) *cell {
	m, p := median(all), percentile(all, 0.99)
	return &cell{vals: repMedians, mid: &m, p99: &p}
}

// loopbackTCP moves size bytes through one loopback TCP connection in this
// process and returns MB/s.
func loopbackTCP(size int64) (float64, error) {
	ln, err := net.Listen("tcp", addr(0))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		buf := make([]byte, payload.ChunkSize)
		var n int64
		for {
			m, err := c.Read(buf)
			n += int64(m)
			if err != nil {
				break
			}
		}
		got <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	start := time.Now()
	_, err = payload.NewReader(size).WriteTo(c)
	c.Close()
	n := <-got
	dur := time.Since(start)
	if err != nil {
		return 0, err
	}
	if n != size {
		return 0, fmt.Errorf("loopback moved %d of %d bytes", n, size)
	}
	return float64(size) / dur.Seconds() / 1e6, nil
}

// allWays are the ways into a chain, in the table's order.
var allWays = []way{viaAPIServerSPDY, viaAPIServerWSTranslated, viaAPIServerWSPassthrough, viaKubeletSPDY, viaKubeletWS, viaStreamingSPDY, viaStreamingWS}

func isWholeChain(w way) bool { return w <= viaAPIServerWSPassthrough }

// latency execs `true` latencyN times per way and column, one column after
// the other, and measures the servers' CPU per exec.
func (b *bench) latency(ctx context.Context) {
	cols := []string{colOurs, colUpstream, colUpstreamRT}
	perRep := max(1, b.cfg.latencyN/b.cfg.reps)
	for _, w := range allWays {
		if ctx.Err() != nil {
			return
		}
		r := b.t.add(newRow("`true` via "+w.String(), "ms", 1))
		cpuRow := newRow("server CPU per `true` via "+w.String()+" (apiserver + kubelet + runtime)", "ms", 1)
		if isWholeChain(w) {
			b.t.add(cpuRow)
		}
		ts := b.targets(r, w, cols)
		all := map[string][]float64{}
		reps := map[string][]float64{}
		cpu := map[string][]float64{}
		// The SPDY row's repetitions after the first are profiled, ours and
		// upstream's at once: their execs interleave.
		var profiled []func() []string
		start := time.Now()
		for rep := range b.cfg.reps {
			if rep == 1 && w == viaAPIServerSPDY {
				first := time.Since(start)
				secs := max(1, int(0.9*first.Seconds()*float64(b.cfg.reps-1)))
				dir := filepath.Join(b.cfg.out, "profiles", slug(r.name))
				for _, col := range []string{colOurs, colUpstream} {
					if t := ts[col]; t != nil {
						profiled = append(profiled, b.profile(ctx, t.procs, dir, col, secs))
					}
				}
			}
			lat := map[string][]float64{}
			spent := map[string]reading{}
			for range perRep {
				for _, col := range cols {
					t := ts[col]
					if t == nil || r.cell(col).failed {
						continue
					}
					ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
					s, err := execTrue(ectx, t)
					cancel()
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						r.fail(col, err.Error())
						continue
					}
					lat[col] = append(lat[col], ms(s.dur))
					spent[col] = spent[col].add(s.procs)
				}
			}
			for col, xs := range lat {
				reps[col] = append(reps[col], median(xs))
				all[col] = append(all[col], xs...)
				cpu[col] = append(cpu[col], ms(serverCPU(spent[col]))/float64(len(xs)))
			}
		}
		for _, wait := range profiled {
			b.profiles = append(b.profiles, wait()...)
		}
		for _, col := range cols {
			if len(all[col]) == 0 {
				continue
			}
			failed, text := r.cell(col).failed, r.cell(col).text
			c := latencyCell(reps[col], all[col])
			c.failed, c.text = failed, text
			r.cells[col] = c
			cpuRow.cell(col).vals = cpu[col]
		}
		r.cells[colLimit] = b.forkExec
		b.logf("latency via %s: ours %s, upstream %s, upstream-rt %s", w, r.format(r.cells[colOurs]), r.format(r.cells[colUpstream]), r.format(r.cells[colUpstreamRT]))
	}
}

func serverCPU(r reading) time.Duration {
	var d time.Duration
	for _, role := range roles {
		d += r[role].CPU
	}
	return d
}

// transferSpec is one throughput row.
type transferSpec struct {
	stdin bool
	way   way
	size  int64
	reps  int
	cols  []string
	// profile takes CPU profiles of every server, ours and upstream's,
	// during the last repetition.
	profile bool
}

func (s transferSpec) name() string {
	dir := "stdout"
	if s.stdin {
		dir = "stdin"
	}
	return fmt.Sprintf("%s %s via %s", dir, mib(s.size), s.way)
}

// transferSpecs are the throughput rows: the whole chain at full size with
// every column, then each hop's entry at hopSize with ours and upstream.
func (b *bench) transferSpecs(stdin bool) []transferSpec {
	size, hopSize := b.cfg.stdoutSize, b.cfg.hopStdoutSize
	if stdin {
		size, hopSize = b.cfg.stdinSize, b.cfg.hopStdinSize
	}
	var specs []transferSpec
	for _, w := range allWays {
		s := transferSpec{stdin: stdin, way: w, size: hopSize, reps: b.cfg.hopReps, cols: []string{colOurs, colUpstream}}
		if isWholeChain(w) {
			s.size, s.reps, s.profile = size, b.cfg.reps, !stdin
			// The other placement on the rows the issue shows it; every
			// latency row has it.
			if w == viaAPIServerSPDY || (w == viaAPIServerWSTranslated && !stdin) {
				s.cols = append(s.cols, colUpstreamRT)
			}
		}
		specs = append(specs, s)
	}
	return specs
}

// transfer measures one throughput row, and the servers' CPU per GB.
func (b *bench) transfer(ctx context.Context, spec transferSpec) {
	name := spec.name()
	r := b.t.add(newRow(name, "MB/s", 0))
	cpuRows := map[string]*row{}
	if isWholeChain(spec.way) {
		for _, role := range roles {
			cpuRows[role] = b.t.add(newRow(fmt.Sprintf("%s CPU per GB: %s", role, name), "CPU-s/GB", 2))
		}
	} else {
		cpuRows["all"] = b.t.add(newRow("servers' CPU per GB: "+name, "CPU-s/GB", 2))
	}
	ts := b.targets(r, spec.way, spec.cols)
	if spec.stdin && spec.way == viaStreamingWS {
		// Without v5 the client cannot close stdin: the command would
		// never see its end.
		delete(ts, colUpstream)
		r.none(colUpstream, "(cri-streaming has no WebSocket v5; v4 cannot close stdin)")
	}
	samples := map[string][]sample{}
	profDir := filepath.Join(b.cfg.out, "profiles", slug(name))
	for rep := range spec.reps {
		for _, col := range spec.cols {
			t := ts[col]
			if t == nil || ctx.Err() != nil {
				continue
			}
			var profiled func() []string
			if spec.profile && rep == spec.reps-1 && col != colUpstreamRT {
				profiled = b.profile(ctx, t.procs, profDir, col, profileSeconds(samples[col]))
			}
			tctx, cancel := context.WithTimeout(ctx, time.Duration(spec.size/(4<<20))*time.Second+time.Minute)
			var s sample
			var err error
			if spec.stdin {
				s, err = stdinTransfer(tctx, t, b.payloadBin, spec.size)
			} else {
				s, err = stdoutTransfer(tctx, t, b.payloadBin, "gen", spec.size)
			}
			cancel()
			if profiled != nil {
				b.profiles = append(b.profiles, profiled()...)
			}
			if ctx.Err() != nil {
				break
			}
			if err != nil {
				r.fail(col, fmt.Sprintf("repetition %d: %v", rep+1, err))
				b.logf("%s, %s: FAILED: %v", name, col, err)
				continue
			}
			samples[col] = append(samples[col], s)
		}
	}
	for _, col := range spec.cols {
		for _, s := range samples[col] {
			r.cell(col).vals = append(r.cell(col).vals, float64(s.bytes)/s.dur.Seconds()/1e6)
			gb := float64(s.bytes) / 1e9
			for role, cr := range cpuRows {
				cpu := s.procs[role].CPU
				if role == "all" {
					cpu = serverCPU(s.procs)
				}
				cr.cell(col).vals = append(cr.cell(col).vals, cpu.Seconds()/gb)
			}
		}
		if len(samples[col]) > 0 {
			b.details = append(b.details, detailLine(name, col, samples[col]))
		}
	}
	r.cells[colLimit] = b.loopback
	b.logf("%s: ours %s, upstream %s, upstream-rt %s", name, r.format(r.cells[colOurs]), r.format(r.cells[colUpstream]), r.format(r.cells[colUpstreamRT]))
}

// profileSeconds is how long to profile the last repetition: most of what
// the earlier ones took, at least a second.
func profileSeconds(earlier []sample) int {
	var durs []float64
	for _, s := range earlier {
		durs = append(durs, s.dur.Seconds())
	}
	if len(durs) == 0 {
		return 1
	}
	return max(1, int(0.8*median(durs)))
}

// profile starts a CPU profile of each of procs for seconds; the function
// it returns waits for them and returns markdown lines of their top
// entries.
func (b *bench) profile(ctx context.Context, procs []*proc, dir, col string, seconds int) func() []string {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return func() []string { return []string{fmt.Sprintf("- %s: %v", dir, err)} }
	}
	var wg sync.WaitGroup
	lines := make([][]string, len(procs))
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			file := filepath.Join(dir, col+"-"+p.role+".pprof")
			if err := p.cpuProfile(ctx, seconds, file); err != nil {
				lines[i] = []string{fmt.Sprintf("- %s %s: no profile: %v", col, p.role, err)}
				return
			}
			top, err := profileTop(file, 12)
			if err != nil {
				lines[i] = []string{fmt.Sprintf("- %s %s: %v", col, p.role, err)}
				return
			}
			os.WriteFile(strings.TrimSuffix(file, ".pprof")+".top.txt", []byte(strings.Join(top, "\n")+"\n"), 0o644)
			rel, _ := filepath.Rel(b.cfg.out, file)
			l := []string{fmt.Sprintf("- **%s %s** (%s, %d s, %s): flat (cum) share of its CPU:", col, p.role, rel, seconds, top[0])}
			for _, t := range top[1:min(7, len(top))] {
				l = append(l, "  `"+t+"`")
			}
			lines[i] = l
		}()
	}
	return func() []string {
		wg.Wait()
		return slices.Concat(lines...)
	}
}

// detailLine is a markdown row of where one column's transfer went, per
// process: CPU per GB and bytes per read and write syscall (medians).
func detailLine(name, col string, samples []sample) string {
	cells := []string{name, col}
	for _, role := range append(slices.Clone(roles), clientRole, commandRole) {
		var cpu, rd, wr []float64
		for _, s := range samples {
			p, ok := s.procs[role]
			if !ok {
				continue
			}
			cpu = append(cpu, p.CPU.Seconds()/(float64(s.bytes)/1e9))
			if p.ReadCalls > 0 {
				rd = append(rd, float64(p.ReadBytes)/float64(p.ReadCalls))
			}
			if p.WriteCalls > 0 {
				wr = append(wr, float64(p.WriteBytes)/float64(p.WriteCalls))
			}
		}
		if len(cpu) == 0 {
			cells = append(cells, "")
			continue
		}
		cells = append(cells, fmt.Sprintf("%.2f · r %s · w %s", median(cpu), kib(rd), kib(wr)))
	}
	return "| " + strings.Join(cells, " | ") + " |"
}

func kib(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f KiB", median(xs)/1024)
}

// stalls checks that every byte reaches a client that pauses: one that
// stops reading for longer than any drain timeout after every MiB, until
// the chain's buffers are full and the command has ended.
func (b *bench) stalls(ctx context.Context) {
	const size, every, pause = 12 << 20, 1 << 20, 2500 * time.Millisecond
	for _, w := range []way{viaAPIServerSPDY, viaAPIServerWSTranslated, viaStreamingSPDY, viaStreamingWS} {
		r := b.t.add(newRow(fmt.Sprintf("stdout %s to a client that stops reading for %v after each MiB, via %s: every byte arrives", mib(size), pause, w), "MB/s", 2))
		ts := b.targets(r, w, []string{colOurs, colUpstream})
		for _, col := range []string{colOurs, colUpstream} {
			t := ts[col]
			if t == nil || ctx.Err() != nil {
				continue
			}
			s, err := stdoutTransferTo(ctx, t, b.payloadBin, "gen", size, func(w io.Writer) io.Writer {
				return &pausingWriter{w: w, every: every, pause: pause}
			})
			if err != nil {
				r.fail(col, err.Error())
				continue
			}
			r.cell(col).vals = []float64{float64(s.bytes) / s.dur.Seconds() / 1e6}
		}
		b.logf("%s: ours %s, upstream %s", r.name, r.format(r.cells[colOurs]), r.format(r.cells[colUpstream]))
	}
}

// transfers runs the stdout or stdin rows.
func (b *bench) transfers(ctx context.Context, stdin bool) {
	for _, spec := range b.transferSpecs(stdin) {
		if ctx.Err() != nil {
			return
		}
		b.transfer(ctx, spec)
	}
}

// kubectl runs the real kubectl against our chain, SPDY and WebSocket in
// turn.
func (b *bench) kubectl(ctx context.Context) {
	bin, version, env := findKubectl(b.ours)
	size := b.cfg.kubectlSize
	for _, ws := range []bool{false, true} {
		proto := "SPDY"
		if ws {
			proto = "WebSocket"
		}
		r := b.t.add(newRow(fmt.Sprintf("kubectl %s exec, %s stdout, %s, via the apiserver (translate mode)", version, mib(size), proto), "MB/s", 0))
		r.none(colUpstream, "(the upstream apiserver serves pods/exec alone, not the discovery and pod kubectl reads first)")
		r.cells[colLimit] = b.loopback
		if bin == "" {
			r.none(colOurs, "(no kubectl on this machine)")
			continue
		}
		for rep := range b.cfg.kubectlReps {
			if ctx.Err() != nil {
				return
			}
			mbps, cpu, err := runKubectl(ctx, bin, env, b.ours.translate.stack.Kubeconfig, b.payloadBin, size, ws)
			if err != nil {
				r.fail(colOurs, fmt.Sprintf("repetition %d: %v", rep+1, err))
				b.logf("%s: FAILED: %v", r.name, err)
				continue
			}
			r.cell(colOurs).vals = append(r.cell(colOurs).vals, mbps)
			b.details = append(b.details, fmt.Sprintf("| %s | ours | | | | kubectl %.2f CPU-s/GB | |", r.name, cpu))
		}
		b.logf("%s: %s", r.name, r.format(r.cells[colOurs]))
	}
}

// findKubectl picks the versioned kubectl that the dispatcher would run
// against our apiserver, or the dispatcher with a cache of its own.
func findKubectl(o *ours) (bin, version string, env []string) {
	v, err := o.translate.stack.Client().Discovery().ServerVersion()
	if err == nil {
		versioned := "/usr/lib/google-cloud-sdk/bin/kubectl.1." + strings.TrimSuffix(v.Minor, "+")
		if _, err := os.Stat(versioned); err == nil {
			return versioned, "1." + strings.TrimSuffix(v.Minor, "+"), nil
		}
	}
	if p, err := exec.LookPath("kubectl"); err == nil {
		cache, _ := os.MkdirTemp("", "execlab-bench-kubecache-")
		return p, "(" + p + ")", []string{"KUBECACHEDIR=" + cache}
	}
	return "", "", nil
}

// runKubectl has kubectl exec write size bytes, checks them, and returns
// MB/s and kubectl's CPU-s per GB.
func runKubectl(ctx context.Context, bin string, env []string, kubeconfig, payloadBin string, size int64, ws bool) (float64, float64, error) {
	cache, err := os.MkdirTemp("", "execlab-bench-kubectl-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(cache)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(size/(4<<20))*time.Second+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--kubeconfig", kubeconfig, "--cache-dir", cache,
		"exec", podName, "-c", ourContainer, "--", payloadBin, "gen", strconv.FormatInt(size, 10))
	cmd.Env = append(append(os.Environ(), env...), "KUBECTL_REMOTE_COMMAND_WEBSOCKETS="+strconv.FormatBool(ws))
	got := payload.NewSummer(nil)
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = struct{ io.Writer }{got}, &stderr
	start := time.Now()
	err = cmd.Run()
	dur := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %s", err, lastLine(stderr.String()))
	}
	if want := payload.Expected(size); got.Sum() != want {
		return 0, 0, shortTransfer{got.Sum(), want}
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return float64(size) / dur.Seconds() / 1e6, cpu.Seconds() / (float64(size) / 1e9), nil
}
