package fakecri

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// newID returns 32 random bytes in hex, the shape of containerd's IDs
// (internal/cri/util.GenerateID).
func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// lookup finds the entry whose ID is id or starts with it. containerd's
// stores accept any unique prefix (internal/truncindex), and so does every
// RPC here that takes an ID.
func lookup[T any](m map[string]T, id string) (T, error) {
	var zero T
	if id == "" {
		return zero, fmt.Errorf("empty ID: %w", errInvalidArgument)
	}
	if v, ok := m[id]; ok {
		return v, nil
	}
	var found []string
	for full := range m {
		if strings.HasPrefix(full, id) {
			found = append(found, full)
		}
	}
	switch len(found) {
	case 0:
		return zero, errNotFound
	case 1:
		return m[found[0]], nil
	default:
		return zero, fmt.Errorf("multiple IDs found with provided prefix %q: %w", id, errInvalidArgument)
	}
}
