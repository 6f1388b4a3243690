package backend

import (
	"fmt"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/kernels"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// GLAKernel selects the kernel of a GLA forward (kernels/gla.cu).
type GLAKernel int

const (
	// GLAAuto: the recurrent form runs gla_recurrent_<t>; the chunked form
	// runs gla_chunk_<t>_k<KT>, except when no sequence is longer than
	// GLARecurrentMaxLen tokens (then gla_recurrent_<t>).
	GLAAuto GLAKernel = iota
	// GLARecurrentKernel is gla_recurrent_<t>: one token at a time, the
	// state in device memory.
	GLARecurrentKernel
	// GLAChunkedKernel is gla_chunk_<t>_k<KT>: chunks of 64 tokens on the
	// tensor cores.
	GLAChunkedKernel
)

func (k GLAKernel) String() string {
	switch k {
	case GLAAuto:
		return "auto"
	case GLARecurrentKernel:
		return "recurrent"
	case GLAChunkedKernel:
		return "chunked"
	}
	return "unknown"
}

// GLARecurrentMaxLen is the longest sequence for which GLAAuto runs the
// chunked form with the recurrent kernel. An estimate, not a measurement:
// a token of the recurrent kernel reads and writes the K x V state once
// (through L2), about what the chunked kernel spends on a whole chunk's
// fixed work (state in and out, the chunk's gates and diagonal blocks), so
// the two should cross at a few tokens. Bench's autotune is where to
// measure it.
const GLARecurrentMaxLen = 4

// GLAOptions choose the kernel and, for the chunked kernel, its block
// shape; the zero value is the backend's choice.
type GLAOptions struct {
	Kernel GLAKernel
	// Warps per chunked block: 4 (64 values per block) or 8 (128); 0: 8
	// when V > 64, else 4.
	Warps int
	// KeyTile is the chunked kernel's keys per block: 32, 64 or 128 (at
	// most 64 for float32); 0: the smallest that holds K, or the largest
	// whose shared memory fits the device.
	KeyTile int
}

// GLAPlan is what a GLA forward runs.
type GLAPlan struct {
	Kernel GLAKernel // GLARecurrentKernel or GLAChunkedKernel
	Name   string    // the kernel, e.g. gla_chunk_bf16_k128
	Grid   device.Dim3
	Block  device.Dim3
	Smem   int // dynamic shared memory per block, bytes
	// Chunked only: keys per block, key tiles (more than one: float32
	// partial outputs summed by gla_chunk_reduce_<t>), value tiles.
	KeyTile, KeyTiles, ValueTiles int
}

// glaChunkFn is the generated launch wrapper of every gla_chunk_* kernel.
type glaChunkFn func(d device.Device, s device.Stream, grid, block device.Dim3, smem int,
	q, k, v, g, o, oPart, h0, ht, cu32, cu64 device.Ptr, T, H, K, V int32, scale float32) error

// glaRecurrentFn is the generated launch wrapper of every gla_recurrent_*.
type glaRecurrentFn func(d device.Device, s device.Stream, grid, block device.Dim3, smem int,
	q, k, v, g, o, state, cu32, cu64 device.Ptr, T, H, K, V int32, scale float32, loadState int32) error

// glaReduceFn is the generated launch wrapper of every gla_chunk_reduce_*.
type glaReduceFn func(d device.Device, s device.Stream, grid, block device.Dim3, smem int, part, o device.Ptr, total int64, tiles int32) error

type glaChunkKey struct {
	dt tensor.DType
	kt int
}

// The kernels by dtype (and key tile and warps).
var (
	glaChunkFns = map[glaChunkKey]glaChunkFn{
		{tensor.Float32, 32}:   kernels.GlaChunkF32K32,
		{tensor.Float32, 64}:   kernels.GlaChunkF32K64,
		{tensor.Float16, 32}:   kernels.GlaChunkF16K32,
		{tensor.Float16, 64}:   kernels.GlaChunkF16K64,
		{tensor.Float16, 128}:  kernels.GlaChunkF16K128,
		{tensor.BFloat16, 32}:  kernels.GlaChunkBf16K32,
		{tensor.BFloat16, 64}:  kernels.GlaChunkBf16K64,
		{tensor.BFloat16, 128}: kernels.GlaChunkBf16K128,
	}
	glaRecurrentFns = map[tensor.DType]glaRecurrentFn{
		tensor.Float32:  kernels.GlaRecurrentF32,
		tensor.Float16:  kernels.GlaRecurrentF16,
		tensor.BFloat16: kernels.GlaRecurrentBf16,
	}
	glaReduceFns = map[tensor.DType]glaReduceFn{
		tensor.Float32:  kernels.GlaChunkReduceF32,
		tensor.Float16:  kernels.GlaChunkReduceF16,
		tensor.BFloat16: kernels.GlaChunkReduceBf16,
	}
)

// glaSuffix names a dtype in the kernels' names.
func glaSuffix(dt tensor.DType) string {
	switch dt {
	case tensor.Float16:
		return "f16"
	case tensor.BFloat16:
		return "bf16"
	}
	return "f32"
}

// glaKeyTiles are the chunked kernel's key tiles per dtype, ascending:
// float32 tiles of 128 keys (3xTF32 operands kept in float32) do not fit in
// 227 KiB of shared memory.
func glaKeyTiles(dt tensor.DType) []int {
	if dt == tensor.Float32 {
		return []int{32, 64}
	}
	return []int{32, 64, 128}
}

// GLAChunkSmem is the dynamic shared memory of gla_chunk_<t>_k<kt> for
// elements of es bytes: the kernel's gla::Layout (kernels/gla.cu), mirrored.
// Seven [64][kt+8] tiles of the input type (q, k operands scaled two ways
// each; raw q, k, g), the [64][72] score tile and the [64][136] value tile,
// then float32: [64][kt+8] token decays and 8*kt per-key factors.
func GLAChunkSmem(es, kt int) int {
	const chunk = 64
	ldt := kt + 8
	return es*(7*chunk*ldt+chunk*72+chunk*136) + 4*(chunk*ldt+8*kt)
}

// glaPlan chooses the kernel and its launch for a GLA forward of dtype dt
// (float32, float16 or bfloat16) over dims.
//
// Chunked kernel heuristic (estimates to be replaced by bench's autotune;
// no GPU timing backs them yet):
//   - one value tile per head up to V = 128 (8 warps) so that the per-key
//     work every block repeats (gate sums, decays, the float32 diagonal
//     blocks, the off-diagonal products) is done once per head, 4 warps for
//     V <= 64 (no idle warps);
//   - the smallest key tile that holds K (no padded keys); for larger K, or
//     when that tile's shared memory exceeds the device's (A100: 163 KiB,
//     sm_86/89: 99 KiB), the largest that fits, with the partial outputs
//     of the key tiles summed by gla_chunk_reduce_<t>.
func glaPlan(op string, props device.Props, dims backend.GLADims, dt tensor.DType, form backend.GLAForm, o GLAOptions) (GLAPlan, error) {
	kernel := o.Kernel
	if kernel == GLAAuto {
		kernel = GLAChunkedKernel
		if form == backend.GLARecurrent || glaMaxLen(dims) <= GLARecurrentMaxLen {
			kernel = GLARecurrentKernel
		}
	}
	switch kernel {
	case GLARecurrentKernel:
		return glaRecurrentPlan(op, props, dims, dt)
	case GLAChunkedKernel:
		return glaChunkPlan(op, props, dims, dt, o)
	}
	return GLAPlan{}, errs.Argument(op, "unknown kernel %d", int(kernel))
}

func glaRecurrentPlan(op string, props device.Props, dims backend.GLADims, dt tensor.DType) (GLAPlan, error) {
	p := GLAPlan{
		Kernel: GLARecurrentKernel,
		Name:   "gla_recurrent_" + glaSuffix(dt),
		Grid:   device.D3(dims.H, dims.N(), 1),
		Block:  device.D1(warps(dims.V, 128)), // thread j owns state columns j, j+B, ...
		Smem:   12 * dims.K,                   // the token's q, k and exp(g) as float32
	}
	if n := dims.N(); n > 65535 {
		return p, errs.Limit(op, "%d sequences exceed the kernel's 65535 (grid.y)", n)
	}
	if p.Smem > props.SharedPerBlockOptin {
		return p, errs.Limit(op, "K = %d needs %d bytes of shared memory per block; the device has %d", dims.K, p.Smem, props.SharedPerBlockOptin)
	}
	return p, fitInt32(op, dims.T, dims.H, dims.K, dims.V)
}

func glaChunkPlan(op string, props device.Props, dims backend.GLADims, dt tensor.DType, o GLAOptions) (GLAPlan, error) {
	es := dt.Bits() / 8
	w := o.Warps
	switch {
	case w == 0 && dims.V > 64:
		w = 8
	case w == 0:
		w = 4
	case w != 4 && w != 8:
		return GLAPlan{}, errs.Argument(op, "chunked kernel warps %d is not 4 or 8", w)
	}
	tiles := glaKeyTiles(dt)
	kt := o.KeyTile
	if kt != 0 {
		if _, ok := glaChunkFns[glaChunkKey{dt, kt}]; !ok {
			return GLAPlan{}, errs.Argument(op, "chunked kernel key tile %d is not one of %v for %v", kt, tiles, dt)
		}
		if smem := GLAChunkSmem(es, kt); smem > props.SharedPerBlockOptin {
			return GLAPlan{}, errs.Limit(op, "key tile %d needs %d bytes of shared memory per block; the device has %d", kt, smem, props.SharedPerBlockOptin)
		}
	} else {
		for _, c := range tiles {
			if GLAChunkSmem(es, c) > props.SharedPerBlockOptin {
				break
			}
			kt = c
			if c >= dims.K {
				break
			}
		}
		if kt == 0 {
			return GLAPlan{}, errs.Limit(op, "the chunked kernel needs %d bytes of shared memory per block at its smallest key tile; the device has %d",
				GLAChunkSmem(es, tiles[0]), props.SharedPerBlockOptin)
		}
	}
	bv := 16 * w
	p := GLAPlan{
		Kernel:     GLAChunkedKernel,
		Name:       fmt.Sprintf("gla_chunk_%s_k%d", glaSuffix(dt), kt),
		Block:      device.D1(32 * w),
		Smem:       GLAChunkSmem(es, kt),
		KeyTile:    kt,
		KeyTiles:   (dims.K + kt - 1) / kt,
		ValueTiles: max(1, (dims.V+bv-1)/bv),
	}
	p.Grid = device.D3(p.KeyTiles*p.ValueTiles, dims.H, dims.N())
	if dims.H > 65535 || dims.N() > 65535 {
		return p, errs.Limit(op, "%d heads and %d sequences: the chunked kernel takes at most 65535 of each (grid.y, grid.z)", dims.H, dims.N())
	}
	return p, fitInt32(op, dims.T, dims.K*dims.V, p.KeyTiles*p.ValueTiles)
}

// glaMaxLen is the longest sequence of dims.
func glaMaxLen(d backend.GLADims) int {
	m := 0
	for i := 1; i < len(d.Offsets); i++ {
		m = max(m, d.Offsets[i]-d.Offsets[i-1])
	}
	return m
}

// glaWorkspace is the float32 elements of the partial outputs a chunked
// plan with several key tiles sums (gla_chunk_reduce_<t>); 0 otherwise.
func glaWorkspace(plan GLAPlan, dims backend.GLADims) int {
	if plan.Kernel != GLAChunkedKernel || plan.KeyTiles <= 1 {
		return 0
	}
	return plan.KeyTiles * dims.Offsets[dims.N()] * dims.H * dims.V
}

// glaLaunch runs plan on operands already on the device. The recurrent
// kernel works on the state in place in p.h0 (loaded when load), which must
// then be p.ht; the chunked kernel reads p.h0 and writes p.ht where not 0,
// its key tiles' partial outputs going to part (glaWorkspace elements).
// It runs on stream s of dev: the forward runs it between its copies and
// the autotuner times it alone.
func glaLaunch(dev device.Device, s device.Stream, plan GLAPlan, dims backend.GLADims, dt tensor.DType, p glaBuffers, part device.Ptr, load bool, scale float32) error {
	T, H, K, V := int32(dims.T), int32(dims.H), int32(dims.K), int32(dims.V)
	switch plan.Kernel {
	case GLARecurrentKernel:
		l := int32(0)
		if load {
			l = 1
		}
		return glaRecurrentFns[dt](dev, s, plan.Grid, plan.Block, plan.Smem, p.q, p.k, p.v, p.g, p.o, p.h0, p.cu32, p.cu64, T, H, K, V, scale, l)
	case GLAChunkedKernel:
		fn := glaChunkFns[glaChunkKey{dt, plan.KeyTile}]
		err := fn(dev, s, plan.Grid, plan.Block, plan.Smem, p.q, p.k, p.v, p.g, p.o, part, p.h0, p.ht, p.cu32, p.cu64, T, H, K, V, scale)
		total := dims.Offsets[dims.N()] * dims.H * dims.V
		if err != nil || plan.KeyTiles == 1 || total == 0 {
			return err
		}
		const threads = 256
		grid := device.D1(min((total+threads-1)/threads, 8*max(dev.Props().SMs, 1)))
		return glaReduceFns[dt](dev, s, grid, device.D1(threads), 0, part, p.o, int64(total), int32(plan.KeyTiles))
	}
	return errs.Argument("gla", "plan has no kernel")
}
