package streaming

import (
	"context"
	"errors"
)

var errServerClosed = errors.New("streaming server closed")

// untilClosed returns a context that ends when closed is closed or cancel
// is called: a session's context, ending with its connection.
func untilClosed[T any](parent context.Context, closed <-chan T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-closed:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}
