package backend

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/kernels"
	"github.com/matmix/matmix/engine/errs"
)

// Ceilings are a device's measured peaks, the roofline bench reports
// against: memory bandwidth and the matrix and vector rates of the
// arithmetic the kernels use. Zero: not measured.
type Ceilings struct {
	GBPS       float64 `json:"gbps"`        // ceil_copy_f32: bytes read plus written per second, 1e9
	FP32GFLOPS float64 `json:"fp32_gflops"` // ceil_fma_f32: float32 FMAs on the CUDA cores
	TF32GFLOPS float64 `json:"tf32_gflops"` // ceil_mma_tf32: mma.m16n8k8 tf32, float32 accumulation
	F16GFLOPS  float64 `json:"f16_gflops"`  // ceil_mma_f16: mma.m16n8k16 f16, float32 accumulation
	BF16GFLOPS float64 `json:"bf16_gflops"` // ceil_mma_bf16: mma.m16n8k16 bf16, float32 accumulation
	INT8GOPS   float64 `json:"int8_gops"`   // ceil_mma_s8: mma.m16n8k32 s8, int32 accumulation
}

// CeilingSizes size the measurement; zero fields take the defaults, which
// are for a GPU (the simulator needs tiny explicit sizes).
type CeilingSizes struct {
	// CopyBytes is the copied buffer: default 8 x L2 and at least 256 MiB
	// (so that L2 does not serve it), at most an eighth of device memory.
	CopyBytes int
	// Blocks and Threads are the loop kernels' grid and block: default
	// 8 blocks of 256 threads per SM (64 warps: full occupancy).
	Blocks, Threads int
	// Iters are the loop kernels' iterations: default doubled from 256
	// until a launch takes MinTime/2.
	Iters int
	// MinTime is the device time a timed launch aims at (default 20 ms),
	// Runs the timed launches per kernel, the fastest kept (default 5):
	// a ceiling is the best the device does.
	MinTime time.Duration
	Runs    int
}

// ceilChains and the operand values mirror kernels/ceilings.cu: kChains
// independent chains; operands 1 and 1 keep every accumulator an exact
// integer, so a launch's result is known exactly.
const (
	ceilChains = 8
	ceilA      = 1.0
	ceilB      = 1.0
)

func (s CeilingSizes) withDefaults(p device.Props) CeilingSizes {
	if s.CopyBytes <= 0 {
		s.CopyBytes = max(8*p.L2Bytes, 256<<20)
		if p.TotalMem > 0 {
			s.CopyBytes = min(s.CopyBytes, int(p.TotalMem/8))
		}
	}
	s.CopyBytes = max(16, s.CopyBytes/16*16)
	if s.Threads <= 0 {
		s.Threads = 256
	}
	if s.Blocks <= 0 {
		s.Blocks = 8 * max(p.SMs, 1)
	}
	if s.MinTime <= 0 {
		s.MinTime = 20 * time.Millisecond
	}
	if s.Runs <= 0 {
		s.Runs = 5
	}
	return s
}

// ceilLoop is one loop kernel: its launch, the work of one warp-iteration
// (mma) or thread-iteration (FMA), and the value every thread writes.
type ceilLoop struct {
	name    string
	set     func(c *Ceilings, g float64)
	perWarp bool    // work counted per warp (mma) or per thread (FMA)
	intOut  bool    // out holds int32 (s8), else float32
	work    float64 // operations per chain step
	launch  func(d device.Device, grid, block device.Dim3, in, out device.Ptr, iters int32) error
	want    func(iters int) float64
}

func ceilLoops() []ceilLoop {
	mma := func(k int) func(int) float64 {
		// 4 accumulator registers x kChains chains, each iters*k*a*b.
		return func(iters int) float64 { return 4 * ceilChains * float64(iters*k) * ceilA * ceilB }
	}
	wrap := func(f func(device.Device, device.Stream, device.Dim3, device.Dim3, int, device.Ptr, device.Ptr, int32) error) func(device.Device, device.Dim3, device.Dim3, device.Ptr, device.Ptr, int32) error {
		return func(d device.Device, grid, block device.Dim3, in, out device.Ptr, iters int32) error {
			return f(d, 0, grid, block, 0, in, out, iters)
		}
	}
	return []ceilLoop{
		{"ceil_fma_f32", func(c *Ceilings, g float64) { c.FP32GFLOPS = g }, false, false, 2, wrap(kernels.CeilFmaF32),
			func(iters int) float64 { return ceilChains * float64(iters) * ceilB }}, // x = x*1 + 1 from 0
		{"ceil_mma_tf32", func(c *Ceilings, g float64) { c.TF32GFLOPS = g }, true, false, 2 * 16 * 8 * 8, wrap(kernels.CeilMmaTf32), mma(8)},
		{"ceil_mma_f16", func(c *Ceilings, g float64) { c.F16GFLOPS = g }, true, false, 2 * 16 * 8 * 16, wrap(kernels.CeilMmaF16), mma(16)},
		{"ceil_mma_bf16", func(c *Ceilings, g float64) { c.BF16GFLOPS = g }, true, false, 2 * 16 * 8 * 16, wrap(kernels.CeilMmaBf16), mma(16)},
		{"ceil_mma_s8", func(c *Ceilings, g float64) { c.INT8GOPS = g }, true, true, 2 * 16 * 8 * 32, wrap(kernels.CeilMmaS8), mma(32)},
	}
}

// MeasureCeilings times the kernels of kernels/ceilings.cu with device
// events and returns the device's ceilings. Every launch's result is
// checked (the copy's destination, the loops' exact sums): a ceiling
// computed by a wrong kernel is an error, not a number.
func (b *Backend) MeasureCeilings(ctx context.Context, sz CeilingSizes) (Ceilings, error) {
	sz = sz.withDefaults(b.d.Props())
	if sz.Threads%32 != 0 {
		return Ceilings{}, errs.Argument("ceilings", "threads %d is not a multiple of 32 (mma needs whole warps)", sz.Threads)
	}
	var c Ceilings
	gbps, err := b.measureCopy(ctx, sz)
	if err != nil {
		return c, err
	}
	c.GBPS = gbps
	for _, l := range ceilLoops() {
		g, err := b.measureLoop(ctx, l, sz)
		if err != nil {
			return c, err
		}
		l.set(&c, g)
	}
	return c, nil
}

// measureCopy copies a buffer of sz.CopyBytes, filled with a pattern, and
// returns the best (read + written) GB/s.
func (b *Backend) measureCopy(ctx context.Context, sz CeilingSizes) (float64, error) {
	const pattern = 0x3d
	src, err := b.d.Alloc(sz.CopyBytes)
	if err != nil {
		return 0, err
	}
	defer b.d.Free(src)
	dst, err := b.d.Alloc(sz.CopyBytes)
	if err != nil {
		return 0, err
	}
	defer b.d.Free(dst)
	if err := b.d.Memset(src, pattern, sz.CopyBytes); err != nil {
		return 0, err
	}
	if err := b.d.Memset(dst, 0, sz.CopyBytes); err != nil {
		return 0, err
	}
	n4 := sz.CopyBytes / 16
	const threads = 256
	grid := device.D1(min((n4+threads-1)/threads, sz.Blocks))
	launch := func() error {
		return kernels.CeilCopyF32(b.d, 0, grid, device.D1(threads), 0, src, dst, int64(n4))
	}
	best, err := b.bestTime(ctx, sz, launch)
	if err != nil {
		return 0, err
	}
	// Both ends of the buffer hold the pattern: every vector was copied by
	// the same loop, so a wrong stride or bound shows at one of them.
	probe := min(sz.CopyBytes, 4096)
	for _, off := range []int{0, sz.CopyBytes - probe} {
		got := make([]byte, probe)
		if err := b.d.CopyDtoH(got, dst.Add(off)); err != nil {
			return 0, err
		}
		for i, v := range got {
			if v != pattern {
				return 0, errs.Device("ceilings", nil, "ceil_copy_f32: byte %d of the copy is %#x, want %#x", off+i, v, pattern)
			}
		}
	}
	return 2 * float64(sz.CopyBytes) / best.Seconds() / 1e9, nil
}

// measureLoop times one loop kernel (calibrating its iterations first)
// and returns its best rate in 1e9 operations per second.
func (b *Backend) measureLoop(ctx context.Context, l ceilLoop, sz CeilingSizes) (float64, error) {
	in, err := device.Upload(b.d, []float32{ceilA, ceilB})
	if err != nil {
		return 0, err
	}
	defer b.d.Free(in)
	threads := sz.Blocks * sz.Threads
	out, err := b.d.Alloc(4 * threads)
	if err != nil {
		return 0, err
	}
	defer b.d.Free(out)
	grid, block := device.D1(sz.Blocks), device.D1(sz.Threads)
	iters := sz.Iters
	launch := func() error { return l.launch(b.d, grid, block, in, out, int32(iters)) }
	if iters <= 0 {
		// Doubling keeps iters a power of two, so the exact sums stay
		// exact in float32.
		for iters = 256; iters < 1<<22; iters *= 2 {
			t, err := b.timeRuns(ctx, 1, launch)
			if err != nil {
				return 0, err
			}
			if t >= sz.MinTime/2 {
				break
			}
		}
	}
	best, err := b.bestTime(ctx, sz, launch)
	if err != nil {
		return 0, err
	}
	if err := checkCeilLoop(b.d, l, out, threads, iters); err != nil {
		return 0, err
	}
	units := float64(threads)
	if l.perWarp {
		units /= 32
	}
	ops := units * float64(iters) * ceilChains * l.work
	return ops / best.Seconds() / 1e9, nil
}

// checkCeilLoop compares every thread's output with the exact value.
func checkCeilLoop(d device.Device, l ceilLoop, out device.Ptr, threads, iters int) error {
	want := l.want(iters)
	got := make([]uint32, threads)
	if err := device.Download(d, got, out); err != nil {
		return err
	}
	for i, g := range got {
		v := float64(math.Float32frombits(g))
		if l.intOut {
			v = float64(int32(g))
		}
		if v != want {
			return errs.Device("ceilings", nil, "%s: thread %d computed %g, want %g", l.name, i, v, want)
		}
	}
	return nil
}

// bestTime is the fastest of sz.Runs timed launches, after one warm-up.
func (b *Backend) bestTime(ctx context.Context, sz CeilingSizes, launch func() error) (time.Duration, error) {
	if _, err := b.timeRuns(ctx, 1, launch); err != nil {
		return 0, err
	}
	var best time.Duration
	for i := 0; i < sz.Runs; i++ {
		t, err := b.timeRuns(ctx, 1, launch)
		if err != nil {
			return 0, err
		}
		if i == 0 || t < best {
			best = t
		}
	}
	if best <= 0 {
		return 0, errs.Device("ceilings", nil, "a launch took %v: the events cannot time it", best)
	}
	return best, nil
}

// timeRuns is the device time of runs launches on stream 0, between two
// events recorded around them.
func (b *Backend) timeRuns(ctx context.Context, runs int, launch func() error) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	start, err := b.d.NewEvent()
	if err != nil {
		return 0, err
	}
	defer b.d.DestroyEvent(start)
	end, err := b.d.NewEvent()
	if err != nil {
		return 0, err
	}
	defer b.d.DestroyEvent(end)
	if err := b.d.Record(start, 0); err != nil {
		return 0, err
	}
	for i := 0; i < runs; i++ {
		if err := launch(); err != nil {
			return 0, err
		}
	}
	if err := b.d.Record(end, 0); err != nil {
		return 0, err
	}
	t, err := b.d.Elapsed(start, end)
	if err != nil {
		return 0, fmt.Errorf("timing %d launches: %w", runs, err)
	}
	return t, nil
}
