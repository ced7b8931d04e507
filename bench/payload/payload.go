// Package payload is the data the benchmark moves and the command it runs
// in the pod to move it: a deterministic byte stream of any length, which
// the sending end writes and the receiving end checks by its length and
// CRC-32C. Both ends compute the same stream, so every transfer is
// verified, whichever side receives it: a transfer that delivers fewer
// bytes, or other bytes, and reports success is caught.
//
//	payload.go  the stream (Write, Reader), its sum (Sum, Summer, Expected)
//	command.go  the command run in the pod (Main): gen, check, short
package payload

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sync"
)

// ChunkSize is the size of each write of gen and each read of check: what
// coreutils' cat uses, so that the command is as cheap as cat.
const ChunkSize = 128 << 10

// blockSize is the pseudo-random block the stream cycles through; each
// chunk is stamped with its index, so that no two chunks are alike and a
// chunk lost, repeated or reordered changes the sum.
const blockSize = 1 << 20

var (
	blockOnce sync.Once
	block     []byte
)

// baseBlock is the pseudo-random block, the same in every process.
func baseBlock() []byte {
	blockOnce.Do(func() {
		block = make([]byte, blockSize)
		r := rand.NewChaCha8([32]byte{'e', 'x', 'e', 'c', 'l', 'a', 'b'})
		r.Read(block)
	})
	return block
}

// Reader reads the first n bytes of the stream.
type Reader struct {
	buf    []byte // a copy of the block, stamped in place
	off    int64
	remain int64
}

// NewReader returns the stream's first n bytes.
func NewReader(n int64) *Reader {
	return &Reader{buf: append([]byte(nil), baseBlock()...), remain: n}
}

// chunk returns the chunk that starts at off, stamped, and how far into it
// off is.
func (r *Reader) chunk() []byte {
	index := r.off / ChunkSize
	start := (index * ChunkSize) % blockSize
	c := r.buf[start : start+ChunkSize]
	binary.LittleEndian.PutUint64(c, uint64(index))
	return c[r.off%ChunkSize:]
}

// Remaining is how much of the stream is left to read.
func (r *Reader) Remaining() int64 { return r.remain }

func (r *Reader) Read(p []byte) (int, error) {
	if r.remain == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.remain > 0 {
		c := r.chunk()
		m := copy(p[n:], c[:min(int64(len(c)), r.remain)])
		n += m
		r.off += int64(m)
		r.remain -= int64(m)
	}
	return n, nil
}

// WriteTo writes the rest of the stream to w one chunk a write, without
// copying it.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.remain > 0 {
		c := r.chunk()
		c = c[:min(int64(len(c)), r.remain)]
		m, err := w.Write(c)
		total += int64(m)
		r.off += int64(m)
		r.remain -= int64(m)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Sum is what a receiver checks: the length and the CRC-32C of what it got.
type Sum struct {
	N   int64
	CRC uint32
}

func (s Sum) String() string { return fmt.Sprintf("%d bytes, crc32c %08x", s.N, s.CRC) }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Summer is a writer that sums what is written to it.
type Summer struct {
	mu  sync.Mutex
	sum Sum
	// first, if set, is called once, on the first write.
	first func()
}

// NewSummer returns a Summer that calls first, if not nil, on the first
// write.
func NewSummer(first func()) *Summer { return &Summer{first: first} }

func (s *Summer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first != nil && len(p) > 0 {
		s.first()
		s.first = nil
	}
	s.sum.N += int64(len(p))
	s.sum.CRC = crc32.Update(s.sum.CRC, castagnoli, p)
	return len(p), nil
}

// Sum is what was written so far.
func (s *Summer) Sum() Sum {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sum
}

var (
	expectedMu sync.Mutex
	expected   = map[int64]Sum{}
)

// Expected is the sum of the stream's first n bytes.
func Expected(n int64) Sum {
	expectedMu.Lock()
	defer expectedMu.Unlock()
	if s, ok := expected[n]; ok {
		return s
	}
	var s Summer
	NewReader(n).WriteTo(&s)
	expected[n] = s.Sum()
	return expected[n]
}
