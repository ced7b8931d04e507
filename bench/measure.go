package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// reading is a sample of every process a measurement covers, by role: the
// chain's servers and "client", this process.
type reading map[string]procSample

const clientRole = "client"

// readCPUIO samples the CPU and I/O counters of procs and of this process.
func readCPUIO(procs []*proc) (reading, error) {
	r := reading{}
	for _, p := range procs {
		s, err := sampleCPUIO(p.pid)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the %s (pid %d) is no longer running", p.role, p.pid)
		}
		if err != nil {
			return nil, fmt.Errorf("%s (pid %d): %w", p.role, p.pid, err)
		}
		r[p.role] = s
	}
	s, err := sampleCPUIO(os.Getpid())
	if err != nil {
		return nil, err
	}
	r[clientRole] = s
	return r, nil
}

func (r reading) sub(b reading) reading {
	d := reading{}
	for k, v := range r {
		d[k] = v.sub(b[k])
	}
	return d
}

func (r reading) add(b reading) reading {
	d := reading{}
	for k, v := range r {
		d[k] = v
	}
	for k, v := range b {
		d[k] = d[k].add(v)
	}
	return d
}

// get fetches a path of p's pprof endpoints.
func (p *proc) get(ctx context.Context, path string) (*http.Response, error) {
	if p.debug == "" {
		return nil, fmt.Errorf("%s serves no pprof", p.role)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.debug+"/debug/pprof/"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s pprof %s: %w", p.role, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("%s pprof %s: %s: %s", p.role, path, resp.Status, b)
	}
	return resp, nil
}

// goroutines counts p's goroutines: the first line of the goroutine
// profile reads "goroutine profile: total N".
func (p *proc) goroutines(ctx context.Context) (int, error) {
	resp, err := p.get(ctx, "goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	n, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("%s goroutine profile: first line %q", p.role, line)
	}
	return strconv.Atoi(n)
}

// heap is p's live heap: HeapAlloc of the runtime.MemStats the heap
// profile ends with, read after the garbage collection gc=1 asks for.
func (p *proc) heap(ctx context.Context) (int64, error) {
	resp, err := p.get(ctx, "heap?gc=1&debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("%s heap profile: no HeapAlloc", p.role)
}

// cpuProfile writes a CPU profile of p over the next seconds to file.
func (p *proc) cpuProfile(ctx context.Context, seconds int, file string) error {
	resp, err := p.get(ctx, "profile?seconds="+strconv.Itoa(seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profileTop lists a CPU profile's heaviest functions by flat CPU (the
// share of samples in which the function itself ran), each with its
// cumulative share (itself and what it called), as `go tool pprof -top`.
func profileTop(file string, n int) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	idx := len(p.SampleType) - 1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	flat, cum := map[string]int64{}, map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		seen := map[string]bool{}
		for i, loc := range s.Location {
			// Line[0] is the innermost of the functions inlined there.
			for j, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				name := line.Function.Name
				if i == 0 && j == 0 {
					flat[name] += v
				}
				if !seen[name] {
					cum[name] += v
					seen[name] = true
				}
			}
		}
	}
	if total == 0 {
		return []string{"no samples"}, nil
	}
	names := make([]string, 0, len(flat))
	for name := range flat {
		names = append(names, name)
	}
	sort.Slice(names, func(a, b int) bool {
		if flat[names[a]] != flat[names[b]] {
			return flat[names[a]] > flat[names[b]]
		}
		return names[a] < names[b]
	})
	pct := func(v int64) float64 { return 100 * float64(v) / float64(total) }
	lines := []string{fmt.Sprintf("%.2f CPU-s sampled", time.Duration(total).Seconds())}
	for _, name := range names[:min(n, len(names))] {
		lines = append(lines, fmt.Sprintf("%5.1f%% (cum %5.1f%%) %s", pct(flat[name]), pct(cum[name]), name))
	}
	return lines, nil
}
