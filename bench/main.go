package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// config is what a run measures, and how much.
type config struct {
	quick bool
	// reps is the repetitions of the whole-chain rows, hopReps of the rows
	// that enter at the kubelet or the streaming server.
	reps, hopReps int
	// latencyN is the execs of `true` per way and column.
	latencyN                    int
	stdoutSize, stdinSize       int64
	hopStdoutSize, hopStdinSize int64
	// sessions are the idle-session counts over SPDY, wsSessions over
	// WebSocket.
	sessions, wsSessions []int
	setupConcurrency     int
	kubectlSize          int64
	kubectlReps          int
	out, bin, doc        string
	only                 map[string]bool
}

// sections are the parts of a run, in order; -only picks some. stall runs
// only when -only names it: a client that pauses loses bytes in both
// chains today (docs/performance.md), and a run that fails every time
// would hide the rows that do not.
var sections = []string{"limits", "latency", "stdout", "stdin", "sessions", "kubectl", "stall"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "role" {
		if err := runRole(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "execlab-bench role:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "execlab-bench:", err)
		os.Exit(2)
	}
	os.Exit(run(cfg))
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("execlab-bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: execlab-bench [flags]

Runs execlab's whole exec chain and a chain of upstream's parts of the same
shape side by side, on loopback, and prints one table (see docs/performance.md).`)
		fs.PrintDefaults()
	}
	var cfg config
	quick := fs.Bool("quick", false, "small sizes, few repetitions, 200 sessions: under 2 minutes, for CI")
	reps := fs.Int("reps", 0, "repetitions of each whole-chain row (default 3, quick 2)")
	hopReps := fs.Int("hop-reps", 0, "repetitions of the rows entering at the kubelet or the streaming server (default 3, quick 2)")
	latencyN := fs.Int("latency", 0, "execs of true per way and column (default 200, quick 20)")
	stdout := fs.Int64("stdout-mib", 0, "stdout size through the whole chain, MiB (default 1024, quick 32)")
	stdin := fs.Int64("stdin-mib", 0, "stdin size through the whole chain, MiB (default 512, quick 16)")
	hopStdout := fs.Int64("hop-stdout-mib", 0, "stdout size entering at the kubelet or streaming server, MiB (default 128, quick 16)")
	hopStdin := fs.Int64("hop-stdin-mib", 0, "stdin size entering at the kubelet or streaming server, MiB (default 64, quick 8)")
	sessions := fs.String("sessions", "", "idle session counts over SPDY, comma-separated (default 1000,10000, quick 200)")
	wsSessions := fs.String("ws-sessions", "", "idle session counts over WebSocket, comma-separated (default 1000, quick 200)")
	fs.IntVar(&cfg.setupConcurrency, "setup-concurrency", 32, "idle sessions being set up at once")
	kubectlSize := fs.Int64("kubectl-mib", 0, "stdout size through real kubectl, MiB (default 512, quick 32)")
	kubectlReps := fs.Int("kubectl-reps", 0, "repetitions of the kubectl rows (default 3, quick 2)")
	fs.StringVar(&cfg.out, "out", "_artifacts/bench", "directory for results.md, table.md and the CPU profiles")
	fs.StringVar(&cfg.bin, "bin", "", "directory of the repository's binaries and execlab-bench-payload (default: this program's directory)")
	fs.StringVar(&cfg.doc, "doc", "", "a markdown file whose text between <!-- bench:begin --> and <!-- bench:end --> to replace with the results")
	only := fs.String("only", "", "sections to run, comma-separated, of "+strings.Join(sections, ","))
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.quick = *quick
	pick := func(v, full, q int64) int64 {
		switch {
		case v != 0:
			return v
		case cfg.quick:
			return q
		}
		return full
	}
	// Three repetitions of the whole-chain rows keep a full run under 15
	// minutes on 2 cores; the table shows their spread.
	cfg.reps = int(pick(int64(*reps), 3, 2))
	cfg.hopReps = int(pick(int64(*hopReps), 3, 2))
	cfg.latencyN = int(pick(int64(*latencyN), 200, 20))
	cfg.stdoutSize = pick(*stdout, 1024, 32) << 20
	cfg.stdinSize = pick(*stdin, 512, 16) << 20
	cfg.hopStdoutSize = pick(*hopStdout, 128, 16) << 20
	cfg.hopStdinSize = pick(*hopStdin, 64, 8) << 20
	cfg.kubectlSize = pick(*kubectlSize, 512, 32) << 20
	cfg.kubectlReps = int(pick(int64(*kubectlReps), 3, 2))
	if *sessions == "" {
		*sessions = "1000,10000"
		if cfg.quick {
			*sessions = "200"
		}
	}
	if *wsSessions == "" {
		*wsSessions = "1000"
		if cfg.quick {
			*wsSessions = "200"
		}
	}
	var err error
	if cfg.sessions, err = counts(*sessions); err != nil {
		return cfg, fmt.Errorf("-sessions: %w", err)
	}
	if cfg.wsSessions, err = counts(*wsSessions); err != nil {
		return cfg, fmt.Errorf("-ws-sessions: %w", err)
	}
	if cfg.reps < 1 || cfg.hopReps < 1 || cfg.kubectlReps < 1 || cfg.latencyN < 1 {
		return cfg, errors.New("repetitions and counts must be at least 1")
	}
	if *only != "" {
		cfg.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			if !contains(sections, s) {
				return cfg, fmt.Errorf("-only: no section %q", s)
			}
			cfg.only[s] = true
		}
	}
	if cfg.bin == "" {
		self, err := os.Executable()
		if err != nil {
			return cfg, err
		}
		cfg.bin = filepath.Dir(self)
	}
	return cfg, nil
}

// counts parses a comma-separated list of counts; "" or "0" is none.
func counts(list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad count %q", s)
		}
		if n > 0 {
			out = append(out, n)
		}
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// run runs the benchmark and returns the exit code: 0, or 1 if a row
// failed (a transfer short or wrong, a session that failed or leaked), 130
// if interrupted.
func run(cfg config) int {
	b := &bench{cfg: cfg, start: time.Now(), cols: map[string]column{}}
	if err := b.setUp(); err != nil {
		fmt.Fprintln(os.Stderr, "execlab-bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// A second Ctrl-C ends this process at once; the chains' processes
	// then end with it (Pdeathsig).
	context.AfterFunc(ctx, stop)

	dir, err := os.MkdirTemp("", "execlab-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "execlab-bench:", err)
		return 2
	}
	code := b.runChains(ctx, dir)
	if left := descendants(os.Getpid()); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "execlab-bench: still running after the chains stopped, now killed: %v\n", describe(left))
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		code = max(code, 1)
	}
	os.RemoveAll(dir)
	if ctx.Err() != nil {
		return 130
	}
	return code
}

func describe(pids []int) []string {
	var out []string
	for _, p := range pids {
		out = append(out, fmt.Sprintf("%d (%s)", p, cmdline(p)))
	}
	return out
}

// setUp checks the binaries and raises the open-file limit.
func (b *bench) setUp() error {
	for _, name := range []string{"fake-apiserver", "fake-kubelet", "fake-cri", "execlab-bench-payload"} {
		if _, err := os.Stat(filepath.Join(b.cfg.bin, name)); err != nil {
			return fmt.Errorf("%w: build them first (make bench does: go build -o bin/ ./cmd/... and, in bench/, go build -o ../bin/ . ./cmd/...), or name their directory with -bin", err)
		}
	}
	b.payloadBin = filepath.Join(b.cfg.bin, "execlab-bench-payload")
	if abs, err := filepath.Abs(b.payloadBin); err == nil {
		b.payloadBin = abs
	}
	// Every process started from here inherits it: the soft limit up to
	// the hard one, which only a privileged process could raise.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open-file limit: %w", err)
	}
	// Profiles of an earlier run would pass for this one's.
	if err := os.RemoveAll(filepath.Join(b.cfg.out, "profiles")); err != nil {
		return err
	}
	if err := os.MkdirAll(b.cfg.out, 0o755); err != nil {
		return err
	}
	// client-go's own complaints (a ping after a close, say) go to a file,
	// not between the progress lines.
	klogFile, err := os.Create(filepath.Join(b.cfg.out, "client.log"))
	if err != nil {
		return err
	}
	klog.LogToStderr(false)
	klog.SetOutput(klogFile)
	return nil
}

// runChains starts both chains, runs the sections, writes the results and
// stops the chains, whatever happened.
func (b *bench) runChains(ctx context.Context, dir string) (code int) {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "execlab-bench:", err)
		return 2
	}
	defer func() {
		if err := b.stopChains(); err != nil {
			fmt.Fprintln(os.Stderr, "execlab-bench: stopping the chains:", err)
			code = max(code, 1)
		}
	}()
	b.dir, b.self = dir, self
	b.logf("starting our chain (%s) and the upstream chain", b.cfg.bin)
	if err := b.startChains(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "execlab-bench:", err)
		return 2
	}

	b.t.section("Verification and limits")
	b.verification(ctx)
	run := func(name, title string, fn func()) {
		// A section that failed to start the chains again ends the run.
		if ctx.Err() != nil || b.ours == nil || b.up == nil || (b.cfg.only != nil && !b.cfg.only[name]) || (b.cfg.only == nil && name == "stall") {
			return
		}
		b.t.section(title)
		fn()
	}
	run("limits", "Limits", func() { b.limits(ctx) })
	if b.loopback == nil {
		b.loopback = &cell{text: "—"}
	}
	if b.forkExec == nil {
		b.forkExec = &cell{text: "—"}
	}
	run("latency", fmt.Sprintf("Latency: `true`, %d execs per column in %d repetitions: median (p99) [min–max of the repetitions' medians]", b.cfg.latencyN, b.cfg.reps), func() { b.latency(ctx) })
	run("stdout", fmt.Sprintf("Stdout, every byte checked: median [min–max] of %d repetitions (whole chain), %d (from the kubelet or streaming server on)", b.cfg.reps, b.cfg.hopReps), func() { b.transfers(ctx, false) })
	run("stdin", fmt.Sprintf("Stdin, every byte checked by the command: median [min–max] of %d repetitions (whole chain), %d (from the kubelet or streaming server on)", b.cfg.reps, b.cfg.hopReps), func() { b.transfers(ctx, true) })
	run("sessions", "Idle sessions (`sh -c 'echo ready; exec cat'`, stdin open), one round each", func() { b.sessions(ctx) })
	run("kubectl", fmt.Sprintf("Real kubectl, %d repetitions", b.cfg.kubectlReps), func() { b.kubectl(ctx) })
	run("stall", "A client that pauses (-only stall)", func() { b.stalls(ctx) })
	if b.ours != nil {
		b.passthroughNote(ctx)
	}

	ours, upstream := b.t.failures()
	if err := b.write(ours, upstream); err != nil {
		fmt.Fprintln(os.Stderr, "execlab-bench:", err)
		code = 1
	}
	if len(upstream) > 0 {
		fmt.Fprintf(os.Stderr, "\nexeclab-bench: %d FAILED in upstream's chain (upstream's defects; they do not fail the run):\n  %s\n", len(upstream), strings.Join(upstream, "\n  "))
	}
	if len(ours) > 0 {
		fmt.Fprintf(os.Stderr, "\nexeclab-bench: %d FAILED:\n  %s\n", len(ours), strings.Join(ours, "\n  "))
		code = 1
	}
	return code
}

// startChains starts both chains, in directories of their own.
func (b *bench) startChains(ctx context.Context) error {
	b.starts++
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// Sessions past the components' default limits are the point.
	maxSessions := 2 * max(slicesMax(b.cfg.sessions), slicesMax(b.cfg.wsSessions))
	var err error
	b.ours, err = startOurs(ctx, filepath.Join(b.dir, fmt.Sprintf("ours-%d", b.starts)), b.cfg.bin, maxSessions)
	if err != nil {
		return fmt.Errorf("our chain: %w", err)
	}
	if b.up, err = startUpstream(ctx, mkdir(filepath.Join(b.dir, fmt.Sprintf("upstream-%d", b.starts))), b.self); err != nil {
		return fmt.Errorf("upstream chain: %w", err)
	}
	b.cols[colOurs] = b.ours
	b.cols[colUpstream] = upstreamColumn{b.up, containerOwnSession}
	b.cols[colUpstreamRT] = upstreamColumn{b.up, containerRuntimeSession}
	b.logf("chains up: ours %v, upstream %v", pids(b.ours.translate.procs), pids(b.up.procs))
	return nil
}

// stopChains stops both chains.
func (b *bench) stopChains() error {
	var errs []error
	if b.ours != nil {
		errs = append(errs, b.ours.stop())
	}
	if b.up != nil {
		errs = append(errs, b.up.stop())
	}
	b.ours, b.up = nil, nil
	return errors.Join(errs...)
}

func slicesMax(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func mkdir(dir string) string {
	os.MkdirAll(dir, 0o755)
	return dir
}

func pids(procs []*proc) string {
	var s []string
	for _, p := range procs {
		s = append(s, fmt.Sprintf("%s %d", p.role, p.pid))
	}
	return strings.Join(s, ", ")
}

// write prints the table and writes results.md (the table, the machine,
// the details, the profiles) and table.md under the output directory, and
// into -doc's file between its markers.
func (b *bench) write(ours, upstream []string) error {
	var tbl bytes.Buffer
	b.t.markdown(&tbl)
	fmt.Print("\n" + tbl.String())
	if len(b.notes) > 0 {
		fmt.Println()
		for _, n := range b.notes {
			fmt.Println(n)
		}
	}
	var res bytes.Buffer
	fmt.Fprintf(&res, "Run with `%s` on %s, in %s.\n\n", strings.Join(os.Args, " "), time.Now().Format("2006-01-02 15:04 MST"), time.Since(b.start).Round(time.Second))
	fmt.Fprintf(&res, "Machine: %s.\n\n", machine())
	res.Write(tbl.Bytes())
	for _, n := range b.notes {
		fmt.Fprintf(&res, "\n%s\n", n)
	}
	for _, f := range []struct {
		title string
		list  []string
	}{{"failed", ours}, {"failed in upstream's chain", upstream}} {
		if len(f.list) > 0 {
			fmt.Fprintf(&res, "\n**%d %s:**\n\n", len(f.list), f.title)
			for _, l := range f.list {
				fmt.Fprintf(&res, "- %s\n", l)
			}
		}
	}
	full := res.String()
	var more bytes.Buffer
	more.WriteString("\n### Per process: CPU-s per GB · bytes per read syscall · bytes per write syscall (medians)\n\n")
	more.WriteString("| case | column | apiserver | kubelet | runtime | client | command |\n|---|---|---|---|---|---|---|\n")
	for _, d := range b.details {
		more.WriteString(d + "\n")
	}
	if len(b.profiles) > 0 {
		more.WriteString("\n### CPU profiles (the `true` latency row via the apiserver over SPDY after its first repetition; the last repetition of each whole-chain stdout row): top entries by flat CPU\n\n")
		for _, p := range b.profiles {
			more.WriteString(p + "\n")
		}
	}
	if err := os.WriteFile(filepath.Join(b.cfg.out, "table.md"), tbl.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.cfg.out, "results.md"), []byte(full+more.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nResults, per-process details and CPU profiles: %s\n", filepath.Join(b.cfg.out, "results.md"))
	if b.cfg.doc != "" {
		return replaceBetweenMarkers(b.cfg.doc, full+more.String())
	}
	return nil
}

const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

func replaceBetweenMarkers(file, text string) error {
	doc, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	before, rest, ok := strings.Cut(string(doc), beginMarker)
	_, after, ok2 := strings.Cut(rest, endMarker)
	if !ok || !ok2 {
		return fmt.Errorf("%s has no %s … %s", file, beginMarker, endMarker)
	}
	return os.WriteFile(file, []byte(before+beginMarker+"\n"+text+"\n"+endMarker+after), 0o644)
}

// machine describes what the run ran on.
func machine() string {
	cpu := "?"
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(cpuinfo), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
			break
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	autogroup, _ := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled")
	var mem int64
	meminfo, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(meminfo), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			mem, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%d × %s, %.1f GiB, Linux %s, sched_autogroup_enabled=%s, RLIMIT_NOFILE %d, %s; load average at the end %s",
		runtime.NumCPU(), cpu, float64(mem)/(1<<20), strings.TrimSpace(string(kernel)), strings.TrimSpace(string(autogroup)), lim.Max, runtime.Version(),
		strings.Join(strings.Fields(string(load))[:3], " "))
}
