package sched

import (
	"context"
	"maps"
	"slices"
	"unsafe"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
)

// MonarchJob is y = Monarch(w1, w2) x (engine.Monarch).
// Inputs "x", "w1", "w2"; output "y".
type MonarchJob struct {
	X, W1, W2 *tensor.Tensor
	Y         *tensor.Tensor // output
}

func (j *MonarchJob) Kind() string { return "monarch" }

func (j *MonarchJob) Run(ctx context.Context, e *engine.Engine) error {
	if err := need("monarch", "x", j.X, "w1", j.W1, "w2", j.W2); err != nil {
		return err
	}
	y, err := e.Monarch(ctx, j.X, j.W1, j.W2)
	if err == nil {
		j.Y = y
	}
	return err
}

func (j *MonarchJob) ports() map[string]any {
	return map[string]any{"x": &j.X, "w1": &j.W1, "w2": &j.W2}
}

func (j *MonarchJob) SetInput(name string, v any) error {
	return setInput("monarch", name, v, j.ports())
}

func (j *MonarchJob) Output(name string) (any, error) {
	return output("monarch", name, map[string]any{"y": j.Y})
}

func (j *MonarchJob) Footprint() []int {
	y := 0
	if j.X != nil && j.X.Rank() == 2 && j.W2 != nil && j.W2.Rank() == 3 {
		y = (j.X.Dim(0) * j.W2.Dim(0) * j.W2.Dim(1) * j.X.DType().Bits()) / 8
	}
	return footprint(tensorBytes(j.X), tensorBytes(j.W1), tensorBytes(j.W2), y)
}

func (j *MonarchJob) Bytes() int64 {
	return sum(footprint(tensorBytes(j.X), tensorBytes(j.W1), tensorBytes(j.W2), tensorBytes(j.Y)))
}

// GLAJob is gated linear attention (engine.GLA). Inputs "q", "k", "v", "g",
// "h0", "cu_seqlens" (the last two optional); outputs "o" and, with
// Opt.FinalState, "ht". Opt's H0 and CuSeqlens are the optional inputs.
type GLAJob struct {
	Q, K, V, G *tensor.Tensor
	Opt        engine.GLAOptions
	O, HT      *tensor.Tensor // outputs
}

func (j *GLAJob) Kind() string { return "gla" }

func (j *GLAJob) Run(ctx context.Context, e *engine.Engine) error {
	if err := need("gla", "q", j.Q, "k", j.K, "v", j.V, "g", j.G); err != nil {
		return err
	}
	o, ht, err := e.GLA(ctx, j.Q, j.K, j.V, j.G, j.Opt)
	if err == nil {
		j.O, j.HT = o, ht
	}
	return err
}

func (j *GLAJob) SetInput(name string, v any) error {
	return setInput("gla", name, v, map[string]any{
		"q": &j.Q, "k": &j.K, "v": &j.V, "g": &j.G, "h0": &j.Opt.H0, "cu_seqlens": &j.Opt.CuSeqlens,
	})
}

func (j *GLAJob) Output(name string) (any, error) {
	return output("gla", name, map[string]any{"o": j.O, "ht": j.HT})
}

func (j *GLAJob) Footprint() []int {
	o, ht := 0, 0
	if j.Q != nil && j.V != nil {
		o = j.V.Len() * j.Q.DType().Bits() / 8
	}
	if j.Opt.FinalState && j.Q != nil && j.Q.Rank() == 4 && j.V != nil && j.V.Rank() == 4 {
		n := j.Q.Dim(0)
		if c := j.Opt.CuSeqlens; c != nil {
			n = c.Len() - 1
		}
		ht = n * j.Q.Dim(2) * j.Q.Dim(3) * j.V.Dim(3) * 4
	}
	return footprint(tensorBytes(j.Q), tensorBytes(j.K), tensorBytes(j.V), tensorBytes(j.G),
		tensorBytes(j.Opt.H0), tensorBytes(j.Opt.CuSeqlens), o, ht)
}

func (j *GLAJob) Bytes() int64 {
	return sum(footprint(tensorBytes(j.Q), tensorBytes(j.K), tensorBytes(j.V), tensorBytes(j.G),
		tensorBytes(j.Opt.H0), tensorBytes(j.Opt.CuSeqlens), tensorBytes(j.O), tensorBytes(j.HT)))
}

// W4A4Job quantizes activations x (float32 (M, K)) with W's group size and
// Int8Frac, and multiplies them by the quantized weights W
// (engine.QuantizeWeights, done once as a model does). Inputs "x", "w";
// outputs "y" (float32 (M, N)) and "xq" (the quantized activations).
type W4A4Job struct {
	X        *tensor.Tensor
	W        *quant.Weights
	Int8Frac float64
	XQ       *quant.Activations // output
	Y        *tensor.Tensor     // output
}

func (j *W4A4Job) Kind() string { return "w4a4" }

func (j *W4A4Job) Run(ctx context.Context, e *engine.Engine) error {
	if err := need("w4a4", "x", j.X, "w", j.W); err != nil {
		return err
	}
	xq, err := engine.QuantizeActivations(j.X, j.W.Group, j.Int8Frac)
	if err != nil {
		return err
	}
	y, err := e.W4A4GEMM(ctx, xq, j.W)
	if err == nil {
		j.XQ, j.Y = xq, y
	}
	return err
}

func (j *W4A4Job) SetInput(name string, v any) error {
	return setInput("w4a4", name, v, map[string]any{"x": &j.X, "w": &j.W})
}

func (j *W4A4Job) Output(name string) (any, error) {
	return output("w4a4", name, map[string]any{"y": j.Y, "xq": j.XQ})
}

// Footprint counts x in float32 as it comes in (the quantized activations
// are smaller), the packed weights and y.
func (j *W4A4Job) Footprint() []int {
	y := 0
	if j.X != nil && j.X.Rank() == 2 && j.W != nil {
		y = j.X.Dim(0) * j.W.N * 4
	}
	return footprint(tensorBytes(j.X), weightBytes(j.W), y)
}

func (j *W4A4Job) Bytes() int64 {
	return sum(footprint(tensorBytes(j.X), weightBytes(j.W), tensorBytes(j.Y)))
}

func weightBytes(w *quant.Weights) int {
	if w == nil {
		return 0
	}
	return len(w.Codes) + 4*len(w.Scales)
}

// SpGEMMJob is C = A*B (engine.SpGEMM). Inputs "a", "b" (B nil means A*A);
// output "c".
type SpGEMMJob[T sparse.Float] struct {
	A, B *sparse.CSR[T]
	C    *sparse.CSR[T] // output
}

func (j *SpGEMMJob[T]) Kind() string { return "spgemm" }

func (j *SpGEMMJob[T]) Run(ctx context.Context, e *engine.Engine) error {
	if err := need("spgemm", "a", j.A); err != nil {
		return err
	}
	b := j.B
	if b == nil {
		b = j.A
	}
	c, err := engine.SpGEMM(ctx, e, j.A, b)
	if err == nil {
		j.C = c
	}
	return err
}

func (j *SpGEMMJob[T]) SetInput(name string, v any) error {
	return setInput("spgemm", name, v, map[string]any{"a": &j.A, "b": &j.B})
}

func (j *SpGEMMJob[T]) Output(name string) (any, error) {
	return output("spgemm", name, map[string]any{"c": j.C})
}

// Footprint is the operands only: the size of C is known once it is made.
func (j *SpGEMMJob[T]) Footprint() []int { return footprint(csrBytes(j.A), csrBytes(j.B)) }

func (j *SpGEMMJob[T]) Bytes() int64 {
	return sum(footprint(csrBytes(j.A), csrBytes(j.B), csrBytes(j.C)))
}

func csrBytes[T sparse.Float](m *sparse.CSR[T]) int {
	if m == nil {
		return 0
	}
	var v T
	return 8*len(m.RowPtr) + 4*len(m.ColInd) + int(unsafe.Sizeof(v))*len(m.Val)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
