package payload

import (
	"bytes"
	"io"
	"testing"
)

// Read and WriteTo give the same stream, whatever the read sizes, and
// Expected sums it.
func TestReadAndWriteToAgree(t *testing.T) {
	const n = 3*blockSize + 12345
	var written bytes.Buffer
	if _, err := NewReader(n).WriteTo(&written); err != nil {
		t.Fatal(err)
	}
	r := NewReader(n)
	var read bytes.Buffer
	buf := make([]byte, 7777)
	for {
		m, err := r.Read(buf)
		read.Write(buf[:m])
		if err == io.EOF {
			break
		}
	}
	if !bytes.Equal(written.Bytes(), read.Bytes()) || written.Len() != n {
		t.Fatalf("WriteTo gave %d bytes, Read %d, different: %v", written.Len(), read.Len(), !bytes.Equal(written.Bytes(), read.Bytes()))
	}
	var s Summer
	s.Write(read.Bytes())
	if s.Sum() != Expected(n) {
		t.Errorf("sum %v, Expected %v", s.Sum(), Expected(n))
	}
}

// A stream that lacks a chunk, repeats one, or has one out of place sums
// differently, though its blocks repeat.
func TestSumCatchesLostAndMovedChunks(t *testing.T) {
	const n = 4 * blockSize
	var b bytes.Buffer
	NewReader(n).WriteTo(&b)
	stream := b.Bytes()
	want := Expected(n)
	sum := func(p []byte) Sum {
		var s Summer
		s.Write(p)
		return s.Sum()
	}
	chunk := func(i int) []byte { return stream[i*ChunkSize : (i+1)*ChunkSize] }
	// Chunk 8 repeats chunk 0's bytes but for the stamp.
	if bytes.Equal(chunk(0)[8:], chunk(8)[8:]) == false {
		t.Fatal("the stream should cycle through one block")
	}
	cases := map[string][]byte{
		"short":     stream[:n-1],
		"lost":      append(append([]byte(nil), stream[:ChunkSize]...), stream[2*ChunkSize:]...),
		"swapped":   append(append(append([]byte(nil), chunk(1)...), chunk(0)...), stream[2*ChunkSize:]...),
		"shifted 8": append(append([]byte(nil), stream[8*ChunkSize:]...), stream[:8*ChunkSize]...),
	}
	for name, p := range cases {
		if sum(p) == want {
			t.Errorf("%s: same sum as the stream", name)
		}
	}
}
