// Package errs defines the typed errors every matmix package returns.
//
// Each error carries a Kind (a sentinel usable with errors.Is), the operation
// that failed and a one-line message. Callers test the kind with errors.Is and
// reach the details with errors.As:
//
//	if errors.Is(err, errs.ErrShape) { ... }
//	var e *errs.Error
//	if errors.As(err, &e) { log.Print(e.Op) }
package errs

import (
	"errors"
	"fmt"
)

// Kind sentinels. An *Error matches its kind under errors.Is.
var (
	ErrShape       = errors.New("shape mismatch")
	ErrDType       = errors.New("unsupported dtype")
	ErrArgument    = errors.New("invalid argument")
	ErrDevice      = errors.New("device error")
	ErrLimit       = errors.New("size limit exceeded")
	ErrFormat      = errors.New("malformed file")
	ErrUnsupported = errors.New("not supported by this backend")
)

// Error is the error type of the engine: a kind, the failing operation and a
// message, optionally wrapping a cause.
type Error struct {
	Kind error  // one of the sentinels above
	Op   string // e.g. "monarch", "npy.Read"
	Msg  string
	Err  error // underlying cause, may be nil
}

func (e *Error) Error() string {
	s := e.Op
	if s != "" {
		s += ": "
	}
	s += e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is this error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func newf(kind error, op, format string, args ...any) error {
	return &Error{Kind: kind, Op: op, Msg: fmt.Sprintf(format, args...)}
}

// Shape reports operands whose shapes do not fit together.
func Shape(op, format string, args ...any) error { return newf(ErrShape, op, format, args...) }

// DType reports an operand of a dtype the operation does not take.
func DType(op, format string, args ...any) error { return newf(ErrDType, op, format, args...) }

// Argument reports a bad scalar argument or option.
func Argument(op, format string, args ...any) error { return newf(ErrArgument, op, format, args...) }

// Limit reports a problem whose size overflows or exceeds a configured limit.
func Limit(op, format string, args ...any) error { return newf(ErrLimit, op, format, args...) }

// Unsupported reports an operation or dtype a backend does not implement.
func Unsupported(op, format string, args ...any) error {
	return newf(ErrUnsupported, op, format, args...)
}

// Format reports a malformed or truncated file.
func Format(op string, cause error, format string, args ...any) error {
	return &Error{Kind: ErrFormat, Op: op, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Device reports a failure of the device or its driver.
func Device(op string, cause error, format string, args ...any) error {
	return &Error{Kind: ErrDevice, Op: op, Msg: fmt.Sprintf(format, args...), Err: cause}
}
