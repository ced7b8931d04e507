package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// execCase is one exec run, the same for every client and every stack.
type execCase struct {
	name   string
	args   []string
	stdin  []byte
	stdout string
	// stderr is what the command wrote; a kubectl adds its own line for a
	// non-zero exit after it.
	stderr string
	code   int
	// on holds what a runtime answers instead, where it legitimately
	// differs; docs/containerd.md explains each difference.
	on map[string]outcome
}

// want is the outcome expected on the runtime under test.
func (tc execCase) want() outcome {
	if o, ok := tc.on[runtimeName]; ok {
		return o
	}
	return outcome{stdout: tc.stdout, stderr: tc.stderr, code: tc.code}
}

func execCases() []execCase {
	return []execCase{
		{name: "echo", args: []string{"demo", "--", "echo", "hello"}, stdout: "hello\n"},
		{
			name:   "split streams and exit code",
			args:   []string{"demo", "--", "sh", "-c", "echo out; echo err >&2; exit 3"},
			stdout: "out\n", stderr: "err\n", code: 3,
		},
		{name: "stdin", args: []string{"-i", "demo", "--", "wc", "-c"}, stdin: []byte("12345"), stdout: "5\n"},
		{name: "container named", args: []string{"demo", "-c", "main", "--", "echo", "hi"}, stdout: "hi\n"},
		// The command runs in the container's root file system: the busybox
		// image with containerd, the host's with the fake.
		{
			name: "image file", args: []string{"demo", "--", "ls", "/bin/busybox"},
			on: map[string]outcome{
				fakeRuntime:       onHost("ls", "/bin/busybox"),
				containerdRuntime: {stdout: "/bin/busybox\n"},
			},
		},
		{
			name: "host file", args: []string{"demo", "--", "ls", "-d", "/usr/local/go"},
			on: map[string]outcome{
				fakeRuntime:       onHost("ls", "-d", "/usr/local/go"),
				containerdRuntime: {stderr: "ls: /usr/local/go: No such file or directory\n", code: 1},
			},
		},
	}
}

// testExecCases runs every exec case with each client against s.
func testExecCases(t *testing.T, s *execlabtest.Stack, clients []client) {
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range execCases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					want := tc.want()
					r := c.run(t, s, bytes.NewReader(tc.stdin), append([]string{"exec"}, tc.args...)...)
					if r.stdout != want.stdout || !strings.HasPrefix(r.stderr, want.stderr) || r.code != want.code {
						t.Errorf("got stdout %q, stderr %q, exit %d; want stdout %q, stderr %q…, exit %d",
							r.stdout, r.stderr, r.code, want.stdout, want.stderr, want.code)
					}
					if want.code != 0 && c.kubectl {
						if full := fmt.Sprintf("%scommand terminated with exit code %d\n", want.stderr, want.code); r.stderr != full {
							t.Errorf("kubectl stderr %q, want %q", r.stderr, full)
						}
					}
				})
			}
			t.Run("10MiB binary through cat", func(t *testing.T) {
				t.Parallel()
				testCatBinary(t, s, c, 10<<20)
			})
			t.Run("tty resize", func(t *testing.T) {
				t.Parallel()
				testTTYResize(t, s, c)
			})
		})
	}
}

func testCatBinary(t *testing.T, s *execlabtest.Stack, c client, size int) {
	data := make([]byte, size)
	rand.Read(data)
	r := c.run(t, s, bytes.NewReader(data), "exec", "-i", "demo", "--", "cat")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !bytes.Equal([]byte(r.stdout), data) {
		t.Fatalf("%d bytes came back, want the %d sent, byte for byte", len(r.stdout), len(data))
	}
}

// testTTYResize opens a shell on a 24x80 terminal, checks the size the
// container sees, resizes the terminal to 40x100 and checks again.
func testTTYResize(t *testing.T, s *execlabtest.Stack, c client) {
	term := c.runTerminal(t, s, 24, 80, "exec", "-it", "demo", "--", "sh")
	term.until("stty size\n", "24 80")
	term.resize(40, 100)
	term.until("stty size\n", "40 100")
	term.write("exit 7\n")
	if code := term.wait(); code != 7 {
		t.Fatalf("exit code %d, want 7; output:\n%s", code, term.output())
	}
}

func TestExecSPDY(t *testing.T) {
	testExecCases(t, shared, spdyClients)
}
