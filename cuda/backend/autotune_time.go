package backend

import (
	"context"
	"slices"
	"time"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// TuneOptions control how candidates are timed.
type TuneOptions struct {
	// MinTime is the device time one timing aims at: a candidate's launches
	// are batched between two events until they take about this long, so
	// that the events' resolution (about 0.5 us) does not matter. Default
	// 10 ms.
	MinTime time.Duration
	// Rounds are the timings per candidate, the candidates interleaved in
	// every round (so a clock or thermal drift hits them alike); the
	// median counts. Default 5.
	Rounds int
}

func (o TuneOptions) withDefaults() TuneOptions {
	if o.MinTime <= 0 {
		o.MinTime = 10 * time.Millisecond
	}
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
	return o
}

// maxTuneRuns bounds the launches batched in one timing.
const maxTuneRuns = 1 << 14

// tuneTimer returns the time of runs back-to-back launches of candidate i.
type tuneTimer func(i, runs int) (time.Duration, error)

// tune times every candidate and returns the winner: the least median time
// per run (ties: the earlier candidate, the order being the heuristic's
// preference).
func tune(ctx context.Context, names []string, timer tuneTimer, o TuneOptions) (TuneEntry, error) {
	o = o.withDefaults()
	if len(names) == 0 {
		return TuneEntry{}, errs.Unsupported("autotune", "no candidate plan fits this shape on the device")
	}
	runs := make([]int, len(names))
	for i := range names {
		if _, err := timer(i, 1); err != nil { // warm-up: module load, first-touch, clocks
			return TuneEntry{}, err
		}
		t, err := timer(i, 1)
		if err != nil {
			return TuneEntry{}, err
		}
		runs[i] = maxTuneRuns
		if t > 0 {
			runs[i] = int(min(maxTuneRuns, max(1, int64(o.MinTime/t))))
		}
	}
	per := make([][]float64, len(names))
	for r := 0; r < o.Rounds; r++ {
		for i := range names {
			if err := ctx.Err(); err != nil {
				return TuneEntry{}, err
			}
			t, err := timer(i, runs[i])
			if err != nil {
				return TuneEntry{}, err
			}
			per[i] = append(per[i], t.Seconds()/float64(runs[i]))
		}
	}
	e := TuneEntry{Timed: map[string]float64{}}
	for i, n := range names {
		m := median(per[i])
		e.Timed[n] = m
		if i == 0 || m < e.Seconds {
			e.Plan, e.Seconds = n, m
		}
	}
	return e, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// monarchCandidates are the plans worth timing for a shape: the fused
// kernel at every row tile that fits, then the two-pass path.
func monarchCandidates(props device.Props, kv *monarchKernels, d monarchDims, math MonarchMath) []MonarchPlan {
	var out []MonarchPlan
	for _, bm := range slices.Backward(monarchRowTiles) {
		if p, err := monarchPlan(props, kv, d, MonarchOptions{Math: math, Path: MonarchFused, RowTile: bm}); err == nil {
			out = append(out, p)
		}
	}
	if p, err := monarchPlan(props, kv, d, MonarchOptions{Math: math, Path: MonarchTwoPass}); err == nil {
		out = append(out, p)
	}
	return out
}

// glaCandidates are the plans worth timing: the recurrent kernel (every
// form computes the same function), and for the chunked form the chunked
// kernel at every key tile that fits, with 4 warps and, when V > 64 (two
// value tiles at 4 warps), 8. The recurrent form is the caller's explicit
// choice of kernel: it is its only candidate.
func glaCandidates(props device.Props, dims backend.GLADims, dt tensor.DType, form backend.GLAForm) []GLAPlan {
	var out []GLAPlan
	if p, err := glaPlan("gla", props, dims, dt, form, GLAOptions{Kernel: GLARecurrentKernel}); err == nil {
		out = append(out, p)
	}
	if form != backend.GLAChunked {
		return out
	}
	warps := []int{4}
	if dims.V > 64 {
		warps = append(warps, 8)
	}
	for _, kt := range glaKeyTiles(dt) {
		for _, w := range warps {
			if p, err := glaPlan("gla", props, dims, dt, form, GLAOptions{Kernel: GLAChunkedKernel, KeyTile: kt, Warps: w}); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// AutotuneMonarch times every candidate plan of a's shape (with math's
// arithmetic for float32) on the device, the operands uploaded once and the
// kernels alone between the events, and returns the cache key and entry.
// a.Y receives nothing.
func (b *Backend) AutotuneMonarch(ctx context.Context, a backend.MonarchArgs, math MonarchMath, o TuneOptions) (string, TuneEntry, error) {
	const op = "monarch"
	if err := backend.CheckMonarch(a); err != nil {
		return "", TuneEntry{}, err
	}
	kv, err := monarchVariant(op, a.X.DType(), math)
	if err != nil {
		return "", TuneEntry{}, err
	}
	if err := hostOperands(op, a.X, a.W1, a.W2, a.Y); err != nil {
		return "", TuneEntry{}, err
	}
	d := monarchDimsOf(a.X, a.W1, a.W2)
	if err := d.fit(op); err != nil {
		return "", TuneEntry{}, err
	}
	key := monarchTuneKey(kv, d)
	if d.batch == 0 {
		return key, TuneEntry{}, errs.Argument(op, "an empty batch has nothing to time")
	}
	plans := monarchCandidates(b.d.Props(), kv, d, math)
	var m devMem
	defer m.free(b.d)
	x, w1, w2 := m.upload(b.d, a.X), m.upload(b.d, a.W1), m.upload(b.d, a.W2)
	y := m.alloc(b.d, a.Y.Len()*kv.elem)
	ws := 0
	for _, p := range plans {
		ws = max(ws, monarchWorkspace(kv, p, d))
	}
	z := m.alloc(b.d, ws)
	if m.err != nil {
		return key, TuneEntry{}, m.err
	}
	names := make([]string, len(plans))
	for i, p := range plans {
		names[i] = MonarchPlanName(p)
	}
	e, err := tune(ctx, names, func(i, runs int) (time.Duration, error) {
		return b.timeRuns(ctx, runs, func() error { return monarchLaunch(b.d, 0, kv, plans[i], d, x, w1, w2, z, y) })
	}, o)
	return key, e, err
}

// AutotuneGLA times the candidate kernels of a's shape on the device (the
// operands uploaded once) and returns the cache key and entry. a.O and a.HT
// receive nothing.
func (b *Backend) AutotuneGLA(ctx context.Context, a backend.GLAArgs, o TuneOptions) (string, TuneEntry, error) {
	const op = "gla"
	dims, err := backend.CheckGLA(a)
	if err != nil {
		return "", TuneEntry{}, err
	}
	dt := a.Q.DType()
	if err := glaDType(op, dt); err != nil {
		return "", TuneEntry{}, err
	}
	if err := hostOperands(op, a.Q, a.K, a.V, a.G, a.H0, a.CuSeqlens, a.O, a.HT); err != nil {
		return "", TuneEntry{}, err
	}
	key := GLATuneKey(dt, a.Form, dims)
	if dims.N() == 0 || dims.H == 0 || dims.V == 0 || dims.Offsets[dims.N()] == 0 {
		return key, TuneEntry{}, errs.Argument(op, "an empty problem has nothing to time")
	}
	plans := glaCandidates(b.d.Props(), dims, dt, a.Form)
	var m devMem
	defer m.free(b.d)
	var p glaBuffers
	p.q, p.k, p.v, p.g = m.upload(b.d, a.Q), m.upload(b.d, a.K), m.upload(b.d, a.V), m.upload(b.d, a.G)
	p.o = m.alloc(b.d, a.O.Len()*dt.Bits()/8)
	if a.CuSeqlens != nil {
		if a.CuSeqlens.DType() == tensor.Int32 {
			p.cu32 = m.upload(b.d, a.CuSeqlens)
		} else {
			p.cu64 = m.upload(b.d, a.CuSeqlens)
		}
	}
	// One state buffer: the recurrent kernel's state, in place (not loaded:
	// each run starts from zero), and the chunked kernel's final state.
	state := m.alloc(b.d, 4*dims.N()*dims.H*dims.K*dims.V)
	var h0 device.Ptr
	if a.H0 != nil {
		h0 = m.upload(b.d, a.H0)
	}
	ws := 0
	for _, pl := range plans {
		ws = max(ws, glaWorkspace(pl, dims))
	}
	part := m.alloc(b.d, 4*ws)
	if m.err != nil {
		return key, TuneEntry{}, m.err
	}
	scale := float32(backend.GLAScale(a.Scale, dims.K))
	names := make([]string, len(plans))
	for i, pl := range plans {
		names[i] = GLAPlanName(pl)
	}
	e, err := tune(ctx, names, func(i, runs int) (time.Duration, error) {
		q := p
		if plans[i].Kernel == GLARecurrentKernel {
			q.h0, q.ht = state, state
		} else {
			q.h0 = h0
			if a.HT != nil {
				q.ht = state
			}
		}
		return b.timeRuns(ctx, runs, func() error { return glaLaunch(b.d, 0, plans[i], dims, dt, q, part, false, scale) })
	}, o)
	return key, e, err
}

// devMem collects the device buffers of a tuning run and its first error,
// so the setup reads as a list.
type devMem struct {
	ptrs []device.Ptr
	err  error
}

// alloc returns a new buffer, or the null pointer for 0 bytes (the kernels
// take null for an absent operand, such as the partial outputs of a
// single key tile).
func (m *devMem) alloc(d device.Device, bytes int) device.Ptr {
	if m.err != nil || bytes == 0 {
		return 0
	}
	p, err := d.Alloc(bytes)
	if err != nil {
		m.err = err
		return 0
	}
	m.ptrs = append(m.ptrs, p)
	return p
}

// upload copies a host tensor (hostBytes's dtypes) to a new buffer.
func (m *devMem) upload(d device.Device, t *tensor.Tensor) device.Ptr {
	if m.err != nil {
		return 0
	}
	raw, err := hostBytes(t)
	if err != nil {
		m.err = err
		return 0
	}
	p := m.alloc(d, len(raw))
	if m.err == nil && len(raw) > 0 {
		m.err = d.CopyHtoD(p, raw)
	}
	return p
}

func (m *devMem) free(d device.Device) {
	for _, p := range m.ptrs {
		d.Free(p)
	}
}
