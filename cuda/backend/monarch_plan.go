package backend

import (
	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/kernels"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// MonarchMath is how float32 Monarch operands are multiplied. float16 and
// bfloat16 always run on the tensor cores (mma.m16n8k16, float32
// accumulation); float64 is not on cuda (the engine's CPU backend has it).
type MonarchMath int

const (
	// MonarchPrecise multiplies float32 with FMAs on the CUDA cores: within
	// the spec's 1e-5 of the float64 reference. The default, because that
	// tolerance is the float32 contract of every backend.
	MonarchPrecise MonarchMath = iota
	// MonarchTF32 rounds float32 operands to tf32 (10 explicit mantissa
	// bits, as float16, with float32's exponent) for mma.m16n8k8, with
	// float32 accumulation: about 1e-3 relative, at the tensor cores' rate.
	MonarchTF32
)

// MonarchPath is which forward kernels run.
type MonarchPath int

const (
	// MonarchAuto lets the backend choose (see monarchPlan).
	MonarchAuto MonarchPath = iota
	// MonarchFused is monarch_fused_<v>: one kernel, the intermediate in
	// shared memory.
	MonarchFused
	// MonarchTwoPass is two monarch_bgemm_<v> launches, the intermediate
	// in device memory.
	MonarchTwoPass
)

func (p MonarchPath) String() string {
	switch p {
	case MonarchAuto:
		return "auto"
	case MonarchFused:
		return "fused"
	case MonarchTwoPass:
		return "two-pass"
	}
	return "unknown"
}

// MonarchOptions select the arithmetic and, for tuning and tests, the path
// and tile; the zero value is the default (precise float32, automatic
// choice).
type MonarchOptions struct {
	Math    MonarchMath
	Path    MonarchPath
	RowTile int // fused: batch rows per block, one of 16, 32, 48, 64; 0: the heuristic's choice
	Blocks  int // fused: thread blocks to launch (they stride over the row tiles); 0: the heuristic's
}

// MonarchPlan is what a forward product runs.
type MonarchPlan struct {
	Variant string      // the kernels' arithmetic: f32, tf32, f16 or bf16
	Path    MonarchPath // MonarchFused or MonarchTwoPass
	RowTile int         // batch rows per block: the fused tile, or 64 for the two-pass GEMM
	Group   int         // fused: second-product blocks whose outputs leave together
	Blocks  int         // fused: thread blocks launched (they stride over the row tiles)
	Smem    int         // fused: dynamic shared memory per block, bytes
}

// monarchDims are the sizes of a Monarch product in the fly convention.
type monarchDims struct{ batch, k, q, p, l, s, r int }

func (d monarchDims) n() int  { return d.k * d.p }
func (d monarchDims) m() int  { return d.l * d.s }
func (d monarchDims) n1() int { return d.k * d.q } // = l*r, the intermediate's width

// monarchKernels are one arithmetic's kernels (kernels/monarch.cu).
type monarchKernels struct {
	name   string
	elem   int  // bytes per element
	tc     bool // tensor cores
	fused  func(d device.Device, s device.Stream, grid, block device.Dim3, smem int, x, w1, w2, y device.Ptr, batch, k, q, p, l, s_, r, bm, group, vec int32) error
	bgemm  func(d device.Device, s device.Stream, grid, block device.Dim3, smem int, a, w, c device.Ptr, batch, nblk, N, K int32, lda, ldc int64, aL, aR, cL, cR, wtrans, vec int32) error
	wgrad  func(d device.Device, s device.Stream, grid, block device.Dim3, smem int, g, h, ws device.Ptr, batch, nblk, NJ, NI int32, ldg, ldh int64, gL, gR, hL, hR, chunk, vec int32) error
	reduce func(d device.Device, s device.Stream, grid, block device.Dim3, smem int, ws, out device.Ptr, total int64, splits int32) error
}

var (
	monarchF32  = monarchKernels{"f32", 4, false, kernels.MonarchFusedF32, kernels.MonarchBgemmF32, kernels.MonarchWgradF32, kernels.MonarchReduceF32}
	monarchTF32 = monarchKernels{"tf32", 4, true, kernels.MonarchFusedTf32, kernels.MonarchBgemmTf32, kernels.MonarchWgradTf32, kernels.MonarchReduceF32}
	monarchF16  = monarchKernels{"f16", 2, true, kernels.MonarchFusedF16, kernels.MonarchBgemmF16, kernels.MonarchWgradF16, kernels.MonarchReduceF16}
	monarchBF16 = monarchKernels{"bf16", 2, true, kernels.MonarchFusedBf16, kernels.MonarchBgemmBf16, kernels.MonarchWgradBf16, kernels.MonarchReduceBf16}
)

// monarchVariant picks the kernels for a dtype and arithmetic.
func monarchVariant(op string, dt tensor.DType, math MonarchMath) (*monarchKernels, error) {
	switch dt {
	case tensor.Float32:
		if math == MonarchTF32 {
			return &monarchTF32, nil
		}
		return &monarchF32, nil
	case tensor.Float16:
		return &monarchF16, nil
	case tensor.BFloat16:
		return &monarchBF16, nil
	}
	return nil, errs.Unsupported(op, "cuda has monarch for float32, float16 and bfloat16, not %v", dt)
}

// Tiles of the kernels (kernels/monarch.cu): 4 warps per block, the
// GEMMs' 64 x 64 output tiles, the fused kernel's row tiles.
const (
	monarchThreads   = 128
	monarchGemmTile  = 64
	monarchSector    = 32 // bytes of an L2 sector: the unit the fused kernel's stores of y fill
	monarchMinSplitB = 256
)

var monarchRowTiles = []int{64, 48, 32, 16}

// monarchFusedSmem is the fused kernel's dynamic shared memory in bytes:
// FusedLayout in kernels/monarch.cu, the same formula.
func monarchFusedSmem(kv *monarchKernels, d monarchDims, bm, group int) int {
	step := 8
	if kv.tc && kv.elem == 2 {
		step = 16
	}
	pad := 16 / kv.elem
	pK, rK, qN, sN := monarchRoundUp(d.p, step), monarchRoundUp(d.r, step), monarchRoundUp(d.q, 8), monarchRoundUp(d.s, 8)
	ldA, ldB2, ldz := pK+pad, rK+pad, d.l*rK+pad
	stA, stB := bm*ldA, max(qN*ldA, sN*ldB2)
	offOut := monarchRoundUp(bm*ldz*kv.elem, 16)
	offA := offOut + monarchRoundUp(bm*d.s*group*kv.elem, 16)
	offB := offA + 2*stA*kv.elem
	return offB + 2*stB*kv.elem
}

// monarchPlan chooses the forward's path and tile from the shape and the
// device (the launch heuristics of issue 4):
//
//	choice          rule                                                  why
//	path            fused when its shared memory at 16 rows (the          the fused kernel keeps bm rows of the
//	                intermediate, one y group and two buffers of one     intermediate and a whole weight block
//	                weight block) fits SharedPerBlockOptin; else two-     in shared memory; large blocks (the
//	                pass                                                 nblocks=4 style) do not fit
//	row tile bm     among 64, 48, 32, 16 that fit: those giving every    weights are re-read from L2 once per
//	                SM a tile (ceil(batch/bm) >= SMs; if none does, the  row tile, so a larger bm moves fewer
//	                smallest bm, for parallelism); of those, the ones    bytes; but a small batch needs small
//	                with two or more blocks resident per SM (8+ warps    tiles to fill the SMs, and a block has
//	                to hide latency across barriers), if any; then the  only 4 warps and k+l barriers, so two
//	                largest                                              resident blocks keep an SM busy
//	group           min(l, 32 bytes / element size)                      each row's outputs y[b, ss*l + ll0 ..
//	                                                                     + group) are one 32-byte L2 sector
//	blocks          min(row tiles, SMs * blocks resident per SM)         one wave; blocks stride over tiles
//	two-pass tile   64 x 64 x 32, grid (blocks * ceil(N/64), tiles)      the block index fastest, so blocks
//	                                                                     writing the same rows of y (or z)
//	                                                                     run together and their partial
//	                                                                     sectors merge in L2
//
// Resident blocks per SM = min(SharedPerSM / (smem + 1 KiB reserved per
// block), MaxThreadsPerSM / 128).
func monarchPlan(props device.Props, kv *monarchKernels, d monarchDims, o MonarchOptions) (MonarchPlan, error) {
	const op = "monarch"
	plan := MonarchPlan{Variant: kv.name, Group: max(1, min(d.l, monarchSector/kv.elem))}
	fits := func(bm int) (int, bool) {
		smem := monarchFusedSmem(kv, d, bm, plan.Group)
		return smem, smem <= props.SharedPerBlockOptin
	}
	resident := func(smem int) int {
		return max(1, min(props.SharedPerSM/(smem+1024), props.MaxThreadsPerSM/monarchThreads))
	}
	_, fused := fits(16)
	switch o.Path {
	case MonarchTwoPass:
		fused = false
	case MonarchFused:
		if !fused {
			smem, _ := fits(16)
			return plan, errs.Limit(op, "the fused kernel needs %d bytes of shared memory per block at 16 rows; the device has %d", smem, props.SharedPerBlockOptin)
		}
	}
	if !fused {
		plan.Path, plan.RowTile = MonarchTwoPass, monarchGemmTile
		return plan, nil
	}
	plan.Path = MonarchFused
	if o.RowTile != 0 {
		if o.RowTile%16 != 0 || o.RowTile < 16 || o.RowTile > 64 {
			return plan, errs.Argument(op, "row tile %d is not one of 16, 32, 48, 64", o.RowTile)
		}
		smem, ok := fits(o.RowTile)
		if !ok {
			return plan, errs.Limit(op, "row tile %d needs %d bytes of shared memory per block; the device has %d", o.RowTile, smem, props.SharedPerBlockOptin)
		}
		plan.RowTile = o.RowTile
	} else {
		plan.RowTile = chooseRowTile(props, d.batch, fits, resident)
	}
	plan.Smem, _ = fits(plan.RowTile)
	tiles := max(1, monarchCeil(d.batch, plan.RowTile))
	plan.Blocks = min(tiles, max(1, props.SMs)*resident(plan.Smem))
	if o.Blocks > 0 {
		plan.Blocks = o.Blocks
	}
	return plan, nil
}

// chooseRowTile applies the row-tile rule of monarchPlan's table.
func chooseRowTile(props device.Props, batch int, fits func(int) (int, bool), resident func(int) int) int {
	var fitting []int // descending
	for _, bm := range monarchRowTiles {
		if _, ok := fits(bm); ok {
			fitting = append(fitting, bm)
		}
	}
	var filling []int
	for _, bm := range fitting {
		if monarchCeil(batch, bm) >= props.SMs {
			filling = append(filling, bm)
		}
	}
	if len(filling) == 0 {
		return fitting[len(fitting)-1] // 16 fits whenever the fused path was chosen
	}
	for _, bm := range filling {
		if smem, _ := fits(bm); resident(smem) >= 2 {
			return bm
		}
	}
	return filling[0]
}

// Small integer helpers, prefixed: the package has other kernels' files.

// monarchAligned reports whether a stride or size of that many bytes keeps
// 16-byte vectors aligned.
func monarchAligned(bytes int) bool { return bytes%16 == 0 }

func monarchCeil(a, b int) int { return (a + b - 1) / b }

func monarchRoundUp(a, b int) int { return monarchCeil(a, b) * b }

// monarchFlag is bit when b holds, for the kernels' vec arguments.
func monarchFlag(b bool, bit int32) int32 {
	if b {
		return bit
	}
	return 0
}

// monarchWorkspace is the device memory, in bytes, a plan needs besides
// its operands: the two-pass path's intermediate z (batch, l, r).
func monarchWorkspace(kv *monarchKernels, plan MonarchPlan, d monarchDims) int {
	if plan.Path == MonarchFused {
		return 0
	}
	return d.batch * d.n1() * kv.elem
}

// monarchLaunch runs plan on operands already on the device, on stream s
// of dev (z: the monarchWorkspace bytes, unused by the fused path). The
// forward runs it between its copies and the autotuner times it alone, so
// both run the same launches.
func monarchLaunch(dev device.Device, s device.Stream, kv *monarchKernels, plan MonarchPlan, d monarchDims, x, w1, w2, z, y device.Ptr) error {
	if plan.Path != MonarchFused {
		// z = perm(x w1^T), then y = perm(z w2^T).
		if err := launchMonarchGemm(dev, s, kv, d.batch, monarchGemm{a: x, w: w1, c: z, nblk: d.k, n: d.q, k: d.p,
			lda: d.n(), ldc: d.n1(), aL: 1, aR: 1, cL: d.l, cR: d.r}); err != nil {
			return err
		}
		return launchMonarchGemm(dev, s, kv, d.batch, monarchGemm{a: z, w: w2, c: y, nblk: d.l, n: d.s, k: d.r,
			lda: d.n1(), ldc: d.m(), aL: 1, aR: 1, cL: d.s, cR: d.l})
	}
	e := kv.elem
	vec := monarchFlag(monarchAligned(d.n()*e) && monarchAligned(d.p*e), 1) |
		monarchFlag(monarchAligned(d.p*e), 2) | monarchFlag(monarchAligned(d.r*e), 4)
	return kv.fused(dev, s, device.D1(plan.Blocks), device.D1(monarchThreads), plan.Smem, x, w1, w2, y,
		int32(d.batch), int32(d.k), int32(d.q), int32(d.p), int32(d.l), int32(d.s), int32(d.r),
		int32(plan.RowTile), int32(plan.Group), vec)
}
