package fakecri

import (
	"bytes"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// pipeSize is the capacity of the pipe f.
func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var size int
	var serr error
	if err := rc.Control(func(fd uintptr) { size, serr = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return size
}

// An output pipe that carries a bulk transfer grows, one that carries a
// little does not, and every byte arrives in order either way.
func TestOutputPipeGrows(t *testing.T) {
	for _, tc := range []struct {
		size  int
		grown bool
	}{{growPipeAfter / 2, false}, {3*growPipeAfter + 12345, true}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		before := pipeSize(t, r)
		want := make([]byte, tc.size)
		for i := range want {
			want[i] = byte(i * 7 / 3)
		}
		go func() {
			w.Write(want)
			w.Close()
		}()
		var got bytes.Buffer
		n, err := io.Copy(&got, &watchedReader{r: r})
		if err != nil || n != int64(tc.size) || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%d bytes: copied %d, error %v, same bytes %v", tc.size, n, err, bytes.Equal(got.Bytes(), want))
		}
		if size := pipeSize(t, r); (size == bulkPipeSize) != tc.grown || (!tc.grown && size != before) {
			t.Errorf("%d bytes: the pipe holds %d bytes (it held %d), want grown %v", tc.size, size, before, tc.grown)
		}
		r.Close()
	}
}

// The stdin pipe grows once it has carried growPipeAfter bytes.
func TestStdinPipeGrows(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan int64)
	go func() {
		n, _ := io.Copy(io.Discard, r)
		done <- n
	}()
	g := &growingWriter{f: w}
	chunk := make([]byte, 64<<10)
	for range 2 * growPipeAfter / len(chunk) {
		if _, err := g.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if size := pipeSize(t, w); size != bulkPipeSize {
		t.Errorf("after %d bytes the pipe holds %d, want %d", g.moved, size, bulkPipeSize)
	}
	w.Close()
	if n := <-done; n != 2*growPipeAfter {
		t.Errorf("read %d bytes, want %d", n, 2*growPipeAfter)
	}
}
