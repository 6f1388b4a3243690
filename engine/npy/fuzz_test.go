package npy

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// FuzzRead checks that any input either reads into a tensor that writes
// back and reads again to the same values, or fails with one line of a
// Format or DType error; never a panic. The seeds are valid files of every
// dtype, their truncations and a few malformed headers; `go test` runs them.
func FuzzRead(f *testing.F) {
	for _, dt := range allDTypes {
		for _, shape := range [][]int{{3}, {2, 3}, {}, {0, 2}} {
			b := encode(f, randomTensor(f, dt, shape...))
			f.Add(b)
			for _, cut := range []int{0, 5, 8, 9, 10, 40, len(b) - 60, len(b) - 1} {
				if cut >= 0 && cut < len(b) {
					f.Add(b[:cut])
				}
			}
		}
	}
	f.Add(rawFile(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)))
	f.Add(rawFile(3, "{\"shape\": (2L,), \"fortran_order\": True, \"descr\": \"<i4\"}", make([]byte, 8)))
	f.Add(rawFile(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", make([]byte, 16)))
	f.Add(rawFile(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)))
	f.Add(rawFile(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)))
	f.Add(rawFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }", make([]byte, 64)))

	f.Fuzz(func(t *testing.T, data []byte) {
		// Both the sized and the streaming paths.
		x, err := Read(bytes.NewReader(data))
		_, err2 := Read(io.MultiReader(bytes.NewReader(data)))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("sized and streaming reads disagree: %v / %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, errs.ErrFormat) && !errors.Is(err, errs.ErrDType) {
				t.Fatalf("error of another kind: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, x); err != nil {
			t.Fatalf("cannot write back what was read (%v): %v", x, err)
		}
		y, err := Read(&buf)
		if err != nil {
			t.Fatalf("cannot read back what was written (%v): %v", x, err)
		}
		if x.DType() != y.DType() || !slices.Equal(x.Shape(), y.Shape()) || !bytes.Equal(raw(x), raw(y)) {
			t.Fatalf("round trip changed %v into %v", x, y)
		}
	})
}

// raw returns a tensor's bytes, so NaN payloads compare exactly.
func raw(x *tensor.Tensor) []byte {
	switch x.DType() {
	case tensor.Float16:
		return bytesOf(x.Float16())
	case tensor.Float32:
		return bytesOf(x.Float32())
	case tensor.Float64:
		return bytesOf(x.Float64())
	case tensor.Int8:
		return bytesOf(x.Int8())
	case tensor.Int32:
		return bytesOf(x.Int32())
	}
	return bytesOf(x.Int64())
}
