package sched

import (
	"context"
	"reflect"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// Workload is one unit of work: an engine operation with its operands. The
// concrete types are MonarchJob, GLAJob, W4A4Job and SpGEMMJob; a test or
// a caller may add its own.
//
// A Workload is run once, by one goroutine; the scheduler never calls its
// methods concurrently.
type Workload interface {
	// Kind names the operation: "monarch", "gla", "w4a4", "spgemm".
	Kind() string
	// Run computes the outputs on e.
	Run(ctx context.Context, e *engine.Engine) error
	// SetInput sets a named input; graph edges call it before Run.
	SetInput(name string, v any) error
	// Output returns a named output once Run has succeeded.
	Output(name string) (any, error)
	// Footprint lists the bytes of the device buffers the workload needs:
	// its operands and the outputs whose size is known before it runs.
	// The scheduler reserves them from the device's memory pool.
	Footprint() []int
	// Bytes is the bytes read and written (inputs and outputs), after Run.
	Bytes() int64
}

// tensorBytes is the storage size of t (0 for nil).
func tensorBytes(t *tensor.Tensor) int {
	if t == nil {
		return 0
	}
	return (t.Len()*t.DType().Bits() + 7) / 8
}

// footprint lists the non-zero sizes.
func footprint(sizes ...int) []int {
	out := make([]int, 0, len(sizes))
	for _, n := range sizes {
		if n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// sum adds sizes up.
func sum(sizes []int) int64 {
	var s int64
	for _, n := range sizes {
		s += int64(n)
	}
	return s
}

// setInput stores v in the field the ports map names, checking its type.
func setInput(op, name string, v any, ports map[string]any) error {
	dst, ok := ports[name]
	if !ok {
		return errs.Argument(op, "no input %q (inputs: %s)", name, portNames(ports))
	}
	pv := reflect.ValueOf(dst).Elem()
	val := reflect.ValueOf(v)
	if !val.IsValid() || !val.Type().AssignableTo(pv.Type()) {
		return errs.Argument(op, "input %q takes a %v, got %T", name, pv.Type(), v)
	}
	pv.Set(val)
	return nil
}

// output returns the output the ports map names, failing while it is nil
// (not computed yet).
func output(op, name string, ports map[string]any) (any, error) {
	v, ok := ports[name]
	if !ok {
		return nil, errs.Argument(op, "no output %q (outputs: %s)", name, portNames(ports))
	}
	if rv := reflect.ValueOf(v); !rv.IsValid() || rv.IsNil() {
		return nil, errs.Argument(op, "output %q is not computed", name)
	}
	return v, nil
}

// need fails with the name of the first missing (nil) operand.
func need(op string, named ...any) error {
	for i := 0; i+1 < len(named); i += 2 {
		if rv := reflect.ValueOf(named[i+1]); !rv.IsValid() || rv.IsNil() {
			return errs.Argument(op, "missing input %s", named[i])
		}
	}
	return nil
}

func portNames(ports map[string]any) string {
	names := ""
	for _, n := range sortedKeys(ports) {
		if names != "" {
			names += ", "
		}
		names += n
	}
	return names
}
