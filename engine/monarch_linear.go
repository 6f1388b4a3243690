package engine

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// MonarchLinear is a linear layer whose weight is a Monarch matrix, laid out
// exactly as fly's MonarchLinear (HazyResearch/fly,
// src/models/layers/monarch_linear.py), so that its blkdiag1, blkdiag2 and
// bias load unchanged as W1, W2 and Bias.
//
// With in_blksz = ceil(In/NBlocks) and out_blksz = ceil(Out/NBlocks), the
// input is zero-padded to in_ext = NBlocks*in_blksz, multiplied by the
// Monarch (W1, W2) to out_ext = NBlocks*out_blksz outputs, truncated to Out,
// and the bias is added. The block shapes depend on which side is wider:
//
//	in_ext <  out_ext: W1 (NBlocks, in_blksz, in_blksz),  W2 (NBlocks, out_blksz, in_blksz)
//	in_ext >= out_ext: W1 (NBlocks, out_blksz, in_blksz), W2 (NBlocks, out_blksz, out_blksz)
type MonarchLinear struct {
	In, Out, NBlocks int
	W1, W2           *Tensor
	Bias             *Tensor // (Out), or nil for a layer without bias
}

// NewMonarchLinear returns a layer of the given sizes whose W1, W2 and Bias
// are zero tensors of dtype (a float type) with fly's shapes. Fill them, or
// call InitRandom; set Bias to nil for a layer without bias.
func NewMonarchLinear(in, out, nblocks int, dtype DType) (*MonarchLinear, error) {
	const op = "monarch linear"
	if in <= 0 || out <= 0 || nblocks <= 0 {
		return nil, errs.Argument(op, "in, out and nblocks must be positive, got %d, %d, %d", in, out, nblocks)
	}
	if !dtype.IsFloat() {
		return nil, errs.DType(op, "dtype %v is not a float type", dtype)
	}
	l := &MonarchLinear{In: in, Out: out, NBlocks: nblocks}
	s1, s2 := l.weightShapes()
	var err error
	if l.W1, err = tensor.New(dtype, s1...); err != nil {
		return nil, err
	}
	if l.W2, err = tensor.New(dtype, s2...); err != nil {
		return nil, err
	}
	if l.Bias, err = tensor.New(dtype, out); err != nil {
		return nil, err
	}
	return l, nil
}

// blockSizes are fly's in_blksz and out_blksz.
func (l *MonarchLinear) blockSizes() (in, out int) {
	return (l.In + l.NBlocks - 1) / l.NBlocks, (l.Out + l.NBlocks - 1) / l.NBlocks
}

// InExtended is the zero-padded input width NBlocks*ceil(In/NBlocks).
func (l *MonarchLinear) InExtended() int { bi, _ := l.blockSizes(); return l.NBlocks * bi }

// OutExtended is the Monarch's output width NBlocks*ceil(Out/NBlocks), before truncation.
func (l *MonarchLinear) OutExtended() int { _, bo := l.blockSizes(); return l.NBlocks * bo }

// weightShapes are the shapes of W1 and W2 that fly uses for these sizes.
func (l *MonarchLinear) weightShapes() (w1, w2 []int) {
	bi, bo := l.blockSizes()
	if l.InExtended() < l.OutExtended() {
		return []int{l.NBlocks, bi, bi}, []int{l.NBlocks, bo, bi}
	}
	return []int{l.NBlocks, bo, bi}, []int{l.NBlocks, bo, bo}
}

// InitRandom fills the layer as fly's reset_parameters does: each block
// factor uniform in ±1/sqrt(fan_in) with fan_in its last axis (kaiming
// uniform with a = sqrt(5)), the bias uniform in ±1/sqrt(In).
func (l *MonarchLinear) InitRandom(r *rand.Rand) error {
	if err := l.check(); err != nil {
		return err
	}
	fill := func(t *Tensor, bound float64) error {
		v := make([]float64, t.Len())
		for i := range v {
			v[i] = bound * (2*r.Float64() - 1)
		}
		return t.SetFromFloat64(v)
	}
	if err := fill(l.W1, 1/math.Sqrt(float64(l.W1.Dim(2)))); err != nil {
		return err
	}
	if err := fill(l.W2, 1/math.Sqrt(float64(l.W2.Dim(2)))); err != nil {
		return err
	}
	if l.Bias != nil {
		return fill(l.Bias, 1/math.Sqrt(float64(l.In)))
	}
	return nil
}

// check reports a layer whose sizes or tensors do not fit together (the
// fields are exported, so they may have been replaced).
func (l *MonarchLinear) check() error {
	const op = "monarch linear"
	if l.In <= 0 || l.Out <= 0 || l.NBlocks <= 0 {
		return errs.Argument(op, "in, out and nblocks must be positive, got %d, %d, %d", l.In, l.Out, l.NBlocks)
	}
	if l.W1 == nil || l.W2 == nil {
		return errs.Argument(op, "w1 and w2 must be set")
	}
	dt := l.W1.DType()
	if !dt.IsFloat() || l.W2.DType() != dt || (l.Bias != nil && l.Bias.DType() != dt) {
		return errs.DType(op, "weights must share one float dtype, got w1 %v, w2 %v", dt, l.W2.DType())
	}
	s1, s2 := l.weightShapes()
	for _, w := range []struct {
		name string
		t    *Tensor
		want []int
	}{{"w1", l.W1, s1}, {"w2", l.W2, s2}} {
		if !slices.Equal(w.t.Shape(), w.want) {
			return errs.Shape(op, "%s has shape %v, want %v for in=%d out=%d nblocks=%d", w.name, w.t.Shape(), w.want, l.In, l.Out, l.NBlocks)
		}
	}
	if l.Bias != nil && !slices.Equal(l.Bias.Shape(), []int{l.Out}) {
		return errs.Shape(op, "bias has shape %v, want [%d]", l.Bias.Shape(), l.Out)
	}
	return nil
}

// Forward returns the layer's output (batch, Out) for x (batch, In), in the
// weights' dtype.
func (l *MonarchLinear) Forward(ctx context.Context, e *Engine, x *Tensor) (*Tensor, error) {
	const op = "monarch linear"
	if err := l.check(); err != nil {
		return nil, err
	}
	if x == nil {
		return nil, errs.Argument(op, "x is nil")
	}
	if x.Rank() != 2 || x.Dim(1) != l.In {
		return nil, errs.Shape(op, "x has shape %v, want (batch, %d)", x.Shape(), l.In)
	}
	if x.DType() != l.W1.DType() {
		return nil, errs.DType(op, "x is %v but the weights are %v", x.DType(), l.W1.DType())
	}
	inExt, outExt := l.InExtended(), l.OutExtended()
	needHost := inExt != l.In || outExt != l.Out || l.Bias != nil
	if needHost && (!x.OnHost() || !l.W1.OnHost() || (l.Bias != nil && !l.Bias.OnHost())) {
		return nil, errs.Unsupported(op, "padding, truncation and bias need host tensors, got x %v", x)
	}
	batch := x.Dim(0)
	xp := x
	if inExt != l.In {
		var err error
		if xp, err = tensor.New(x.DType(), batch, inExt); err != nil {
			return nil, err
		}
		monarchCopyColumns(xp, x) // the new columns stay zero: fly's F.pad
	}
	y, err := e.Monarch(ctx, xp, l.W1, l.W2)
	if err != nil {
		return nil, err
	}
	if outExt != l.Out {
		full := y
		if y, err = tensor.New(x.DType(), batch, l.Out); err != nil {
			return nil, err
		}
		monarchCopyColumns(y, full)
	}
	if l.Bias != nil {
		monarchAddBias(y, l.Bias)
	}
	return y, nil
}

// monarchCopyColumns copies the leading min(cols) columns of each row of src into
// dst; both are host matrices of one float dtype and the same row count.
func monarchCopyColumns(dst, src *Tensor) {
	switch d := dst.Data().(type) {
	case []float32:
		monarchCopyCols(d, src.Float32(), dst.Dim(1), src.Dim(1))
	case []float64:
		monarchCopyCols(d, src.Float64(), dst.Dim(1), src.Dim(1))
	case []tensor.F16:
		monarchCopyCols(d, src.Float16(), dst.Dim(1), src.Dim(1))
	case []tensor.BF16:
		monarchCopyCols(d, src.BFloat16(), dst.Dim(1), src.Dim(1))
	}
}

func monarchCopyCols[T any](dst, src []T, dcols, scols int) {
	w := min(dcols, scols)
	for r := 0; r*scols < len(src) && r*dcols < len(dst); r++ {
		copy(dst[r*dcols:r*dcols+w], src[r*scols:r*scols+w])
	}
}

// monarchAddBias adds bias (cols) to every row of y, in float32 or wider and
// rounded once for the half types (as torch does for out + bias).
func monarchAddBias(y, bias *Tensor) {
	cols := bias.Len()
	switch d := y.Data().(type) {
	case []float32:
		b := bias.Float32()
		for i := range d {
			d[i] += b[i%cols]
		}
	case []float64:
		b := bias.Float64()
		for i := range d {
			d[i] += b[i%cols]
		}
	case []tensor.F16:
		b := bias.Float16()
		for i := range d {
			d[i] = tensor.ToF16(d[i].Float32() + b[i%cols].Float32())
		}
	case []tensor.BF16:
		b := bias.BFloat16()
		for i := range d {
			d[i] = tensor.ToBF16(d[i].Float32() + b[i%cols].Float32())
		}
	}
}
