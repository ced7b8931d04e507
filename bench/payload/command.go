package payload

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Usage is the command's usage.
const Usage = `usage: execlab-bench-payload gen N | check N CRC | short N
  gen N        write the stream's first N bytes to stdout
  check N CRC  read stdin; exit 1 unless it is N bytes with CRC-32C CRC (hex)
  short N      write 1 MiB less than gen N (at most half of it) and exit 0:
               the transfer the benchmark must catch
Each reports its CPU time and syscalls on stderr when done (see Stats).`

// Main runs the command with args (without the program's name) and
// returns its exit code.
func Main(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, Usage)
		return 2
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "bad length %q\n%s\n", args[1], Usage)
		return 2
	}
	code := 0
	switch {
	case args[0] == "gen" && len(args) == 2:
		err = write(n)
	case args[0] == "short" && len(args) == 2:
		err = write(n - min(1<<20, n/2))
	case args[0] == "check" && len(args) == 3:
		var want uint32
		want, err = parseCRC(args[2])
		if err == nil {
			code, err = check(Sum{N: n, CRC: want})
		}
	default:
		fmt.Fprintln(os.Stderr, Usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(os.Stderr, ownStats())
	return code
}

func parseCRC(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("bad CRC %q: %w", s, err)
	}
	return uint32(v), nil
}

func write(n int64) error {
	_, err := NewReader(n).WriteTo(os.Stdout)
	return err
}

// check reads stdin and says on stdout whether it is the stream of want;
// its exit code is 1 if not.
func check(want Sum) (int, error) {
	var s Summer
	buf := make([]byte, ChunkSize)
	if _, err := io.CopyBuffer(&s, struct{ io.Reader }{os.Stdin}, buf); err != nil {
		return 1, err
	}
	got := s.Sum()
	if got != want {
		fmt.Printf("mismatch: got %v, want %v\n", got, want)
		return 1, nil
	}
	fmt.Printf("ok %v\n", got)
	return 0, nil
}

// CheckOK is the start of check's answer when the stream was right.
const CheckOK = "ok "

// Stats are what the command reports of itself on stderr.
type Stats struct {
	CPU                     time.Duration
	ReadCalls, WriteCalls   uint64
	ReadBytes, WrittenBytes uint64
}

const statsPrefix = "payload stats:"

func ownStats() string {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	io := map[string]uint64{}
	if f, err := os.Open("/proc/self/io"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ": ")
			io[k], _ = strconv.ParseUint(v, 10, 64)
		}
		f.Close()
	}
	return fmt.Sprintf("%s cpu_ns=%d syscr=%d syscw=%d rchar=%d wchar=%d", statsPrefix, cpu.Nanoseconds(), io["syscr"], io["syscw"], io["rchar"], io["wchar"])
}

// ParseStats finds the command's report in what it wrote on stderr.
func ParseStats(stderr string) (Stats, bool) {
	_, line, ok := strings.Cut(stderr, statsPrefix)
	if !ok {
		return Stats{}, false
	}
	line, _, _ = strings.Cut(line, "\n")
	var s Stats
	var cpu int64
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "cpu_ns=%d syscr=%d syscw=%d rchar=%d wchar=%d",
		&cpu, &s.ReadCalls, &s.WriteCalls, &s.ReadBytes, &s.WrittenBytes); err != nil {
		return Stats{}, false
	}
	s.CPU = time.Duration(cpu)
	return s, true
}
