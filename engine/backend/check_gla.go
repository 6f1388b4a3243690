package backend

import (
	"math"
	"slices"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// GLADims are the sizes of a validated GLA problem.
type GLADims struct {
	B, T, H, K, V int
	// Offsets holds N+1 offsets into the flattened B*T token axis: sequence n
	// is tokens Offsets[n] to Offsets[n+1]. Without cu_seqlens they are
	// 0, T, 2T, ..., B*T; with cu_seqlens (B = 1) they are its values. A
	// decode step is the case T = 1.
	Offsets []int
}

// N is the number of sequences (the leading axis of h0 and ht).
func (d GLADims) N() int { return len(d.Offsets) - 1 }

// GLAScale resolves the attention scale: 0 means K^-0.5, as in
// flash-linear-attention.
func GLAScale(scale float64, k int) float64 {
	if scale == 0 {
		return 1 / math.Sqrt(float64(k))
	}
	return scale
}

// CheckGLAInputs validates the inputs of a GLA forward (everything in a but
// O and HT, which it ignores) and returns the problem's sizes.
func CheckGLAInputs(a GLAArgs) (GLADims, error) {
	const op = "gla"
	var d GLADims
	if a.Form != GLAChunked && a.Form != GLARecurrent {
		return d, errs.Argument(op, "unknown form %d (want chunked or recurrent)", int(a.Form))
	}
	if err := checkGLAOperands(op, 4, a.Q, a.K, a.V, a.G, a.Scale); err != nil {
		return d, err
	}
	d.B, d.T, d.H, d.K, d.V = a.Q.Dim(0), a.Q.Dim(1), a.Q.Dim(2), a.Q.Dim(3), a.V.Dim(3)
	if a.CuSeqlens == nil {
		d.Offsets = make([]int, d.B+1)
		for b := range d.Offsets {
			d.Offsets[b] = b * d.T
		}
	} else {
		off, err := glaCuSeqlens(op, a.CuSeqlens, d.B, d.T)
		if err != nil {
			return d, err
		}
		d.Offsets = off
	}
	if a.H0 != nil {
		if err := checkGLAState(op, "h0", a.H0, d); err != nil {
			return d, err
		}
	}
	return d, nil
}

// CheckGLA validates all of a GLA forward's arguments, outputs included.
func CheckGLA(a GLAArgs) (GLADims, error) {
	const op = "gla"
	d, err := CheckGLAInputs(a)
	if err != nil {
		return d, err
	}
	if err := checkGLAOutput(op, a.O, a.Q.DType(), []int{d.B, d.T, d.H, d.V}); err != nil {
		return d, err
	}
	if a.HT != nil {
		if err := checkGLAState(op, "ht", a.HT, d); err != nil {
			return d, err
		}
	}
	return d, nil
}

// CheckGLADecodeInputs validates the inputs of a GLA decode step (everything
// in a but O). The sizes it returns have T = 1 and one sequence per batch row.
func CheckGLADecodeInputs(a GLADecodeArgs) (GLADims, error) {
	const op = "gla decode"
	var d GLADims
	if err := checkGLAOperands(op, 3, a.Q, a.K, a.V, a.G, a.Scale); err != nil {
		return d, err
	}
	d.B, d.T, d.H, d.K, d.V = a.Q.Dim(0), 1, a.Q.Dim(1), a.Q.Dim(2), a.V.Dim(2)
	d.Offsets = make([]int, d.B+1)
	for b := range d.Offsets {
		d.Offsets[b] = b
	}
	if a.State == nil {
		return d, errs.Argument(op, "state is nil (decode needs the recurrent state)")
	}
	return d, checkGLAState(op, "state", a.State, d)
}

// CheckGLADecode validates all of a GLA decode step's arguments.
func CheckGLADecode(a GLADecodeArgs) (GLADims, error) {
	d, err := CheckGLADecodeInputs(a)
	if err != nil {
		return d, err
	}
	return d, checkGLAOutput("gla decode", a.O, a.Q.DType(), []int{d.B, d.H, d.V})
}

// checkGLAOperands checks q, k, g (shape [..., H, K]) and v ([..., H, V]) of
// the given rank, their common float dtype and the scale.
func checkGLAOperands(op string, rank int, q, k, v, g *tensor.Tensor, scale float64) error {
	for _, x := range []struct {
		name string
		t    *tensor.Tensor
	}{{"q", q}, {"k", k}, {"v", v}, {"g", g}} {
		if x.t == nil {
			return errs.Argument(op, "%s is nil", x.name)
		}
		if x.t.Rank() != rank {
			return errs.Shape(op, "%s has shape %v, want rank %d", x.name, x.t.Shape(), rank)
		}
	}
	if !q.DType().IsFloat() {
		return errs.DType(op, "q is %v, want float32, float64, float16 or bfloat16", q.DType())
	}
	for _, x := range []struct {
		name string
		t    *tensor.Tensor
	}{{"k", k}, {"v", v}, {"g", g}} {
		if x.t.DType() != q.DType() {
			return errs.DType(op, "%s is %v, want q's dtype %v", x.name, x.t.DType(), q.DType())
		}
	}
	if !slices.Equal(k.Shape(), q.Shape()) {
		return errs.Shape(op, "k has shape %v, want q's shape %v", k.Shape(), q.Shape())
	}
	if !slices.Equal(g.Shape(), q.Shape()) {
		return errs.Shape(op, "g has shape %v, want q's shape %v", g.Shape(), q.Shape())
	}
	if !slices.Equal(v.Shape()[:rank-1], q.Shape()[:rank-1]) {
		return errs.Shape(op, "v has shape %v, want its leading axes to match q's shape %v", v.Shape(), q.Shape())
	}
	if q.Dim(-1) == 0 {
		return errs.Shape(op, "q has shape %v, want a key dimension K >= 1", q.Shape())
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) {
		return errs.Argument(op, "scale is %v, want a finite number", scale)
	}
	return nil
}

// glaCuSeqlens validates cu_seqlens (int32 or int64 [N+1] on the host, from
// 0 to T, non-decreasing, with B = 1) and returns its values.
func glaCuSeqlens(op string, cu *tensor.Tensor, b, t int) ([]int, error) {
	if cu.DType() != tensor.Int32 && cu.DType() != tensor.Int64 {
		return nil, errs.DType(op, "cu_seqlens is %v, want int32 or int64", cu.DType())
	}
	if cu.Rank() != 1 || cu.Dim(0) < 2 {
		return nil, errs.Shape(op, "cu_seqlens has shape %v, want [N+1] with N >= 1", cu.Shape())
	}
	if b != 1 {
		return nil, errs.Shape(op, "cu_seqlens needs batch size 1, got %d", b)
	}
	if !cu.OnHost() {
		// The offsets decide the shapes of h0 and ht, so they are read here.
		return nil, errs.Argument(op, "cu_seqlens must be a host tensor")
	}
	// Starting at 0, non-decreasing and ending at T keeps every value in [0, T].
	off := make([]int, cu.Len())
	if s := cu.Int32(); s != nil {
		for i, x := range s {
			off[i] = int(x)
		}
	} else {
		for i, x := range cu.Int64() {
			off[i] = int(x)
		}
	}
	if off[0] != 0 {
		return nil, errs.Argument(op, "cu_seqlens[0] = %d, want 0", off[0])
	}
	for i := 1; i < len(off); i++ {
		if off[i] < off[i-1] {
			return nil, errs.Argument(op, "cu_seqlens decreases at %d (%d after %d)", i, off[i], off[i-1])
		}
	}
	if last := off[len(off)-1]; last != t {
		return nil, errs.Argument(op, "cu_seqlens ends at %d, want T = %d", last, t)
	}
	return off, nil
}

// checkGLAState checks a float32 [N, H, K, V] state (h0, ht or the decode state).
func checkGLAState(op, name string, s *tensor.Tensor, d GLADims) error {
	if s.DType() != tensor.Float32 {
		return errs.DType(op, "%s is %v, want float32", name, s.DType())
	}
	if want := []int{d.N(), d.H, d.K, d.V}; !slices.Equal(s.Shape(), want) {
		return errs.Shape(op, "%s has shape %v, want %v", name, s.Shape(), want)
	}
	return nil
}

// checkGLAOutput checks the output o: present, of the inputs' dtype and shape.
func checkGLAOutput(op string, o *tensor.Tensor, dt tensor.DType, shape []int) error {
	if o == nil {
		return errs.Argument(op, "output o is nil")
	}
	if o.DType() != dt {
		return errs.DType(op, "o is %v, want q's dtype %v", o.DType(), dt)
	}
	if !slices.Equal(o.Shape(), shape) {
		return errs.Shape(op, "o has shape %v, want %v", o.Shape(), shape)
	}
	return nil
}
