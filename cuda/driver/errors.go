package driver

import (
	"fmt"

	"github.com/matmix/matmix/engine/errs"
)

// Result is a CUresult, the status code every driver call returns.
type Result int32

// Result codes the package tests for (cuda.h, enum cudaError_enum).
const (
	Success         Result = 0   // CUDA_SUCCESS
	ErrInvalidValue Result = 1   // CUDA_ERROR_INVALID_VALUE
	ErrOutOfMemory  Result = 2   // CUDA_ERROR_OUT_OF_MEMORY
	ErrNoDevice     Result = 100 // CUDA_ERROR_NO_DEVICE
	ErrNotFound     Result = 500 // CUDA_ERROR_NOT_FOUND
	ErrNotReady     Result = 600 // CUDA_ERROR_NOT_READY
	ErrNotSupported Result = 801 // CUDA_ERROR_NOT_SUPPORTED
)

// Error is a failed driver call: the entry point, the CUresult and the
// driver's own name and description of it (cuGetErrorName and
// cuGetErrorString). It matches errs.ErrDevice under errors.Is, and another
// *Error with the same code.
type Error struct {
	Op   string // the entry point, e.g. "cuMemAlloc_v2"
	Code Result
	Name string // e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Text string // e.g. "out of memory"
}

func (e *Error) Error() string {
	return fmt.Sprintf("cuda: %s: %s (%d): %s", e.Op, e.Name, int32(e.Code), e.Text)
}

// Is reports whether target is errs.ErrDevice or an *Error with this code.
func (e *Error) Is(target error) bool {
	if target == errs.ErrDevice {
		return true
	}
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// check turns a CUresult into nil or an *Error named by the driver.
func (d *Driver) check(op string, r Result) error {
	if r == Success {
		return nil
	}
	e := &Error{Op: op, Code: r, Name: "CUDA_ERROR_UNKNOWN_CODE", Text: "unrecognized error code"}
	var s *byte
	if d.cuGetErrorName(r, &s) == Success && s != nil {
		e.Name = goString(s)
	}
	s = nil
	if d.cuGetErrorString(r, &s) == Success && s != nil {
		e.Text = goString(s)
	}
	return e
}
