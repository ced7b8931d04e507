package fakecri

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors that toStatus maps onto gRPC codes, as containerd's
// errdefs are mapped by errgrpc.ToGRPC. Wrap them with fmt.Errorf and %w; the
// message then ends like containerd's, e.g. `...: not found`.
var (
	errNotFound        = errors.New("not found")
	errInvalidArgument = errors.New("invalid argument")
	errAlreadyExists   = errors.New("already exists")
)

// toStatus turns an error into the gRPC status a CRI client sees. Errors that
// match no sentinel are codes.Unknown, as containerd answers for plain errors
// such as "container is in CONTAINER_EXITED state".
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, errNotFound):
		code = codes.NotFound
	case errors.Is(err, errInvalidArgument):
		code = codes.InvalidArgument
	case errors.Is(err, errAlreadyExists):
		code = codes.AlreadyExists
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}

// reply is an RPC's answer: resp, or err as the gRPC status toStatus makes
// of it, as containerd's instrumented service answers errgrpc.ToGRPC(err)
// (internal/cri/instrument/instrumented_service.go).
func reply[T any](resp *T, err error) (*T, error) {
	if err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}
