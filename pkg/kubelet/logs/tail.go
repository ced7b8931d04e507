package logs

import (
	"bytes"
	"io"
)

// blockSize is how much FindTailLineStartIndex reads at a time, backwards.
const blockSize = 1024

// FindTailLineStartIndex returns the offset where the last n lines of f
// begin; n < 0 means the whole file. An incomplete last line (no '\n') does
// not count as a line. It mirrors k8s.io/kubernetes pkg/util/tail.
func FindTailLineStartIndex(f io.ReadSeeker, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	var left, count int64
	buf := make([]byte, blockSize)
	for right := size; right > 0 && count <= n; right -= blockSize {
		left = right - blockSize
		if left < 0 {
			left = 0
			buf = make([]byte, right)
		}
		if _, err := f.Seek(left, io.SeekStart); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(f, buf); err != nil {
			return 0, err
		}
		count += int64(bytes.Count(buf, []byte{'\n'}))
	}
	// The last block read may hold more line starts than wanted: skip them.
	for ; count > n; count-- {
		idx := bytes.IndexByte(buf, '\n') + 1
		buf = buf[idx:]
		left += int64(idx)
	}
	return left, nil
}
