package backend

import (
	"testing"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Shared-memory limits per block (opt-in) as the drivers report them.
var (
	glaH200 = device.Props{SMs: 132, SharedPerBlockOptin: 227 << 10}
	glaA100 = device.Props{SMs: 108, SharedPerBlockOptin: 163 << 10}
	glaL4   = device.Props{SMs: 58, SharedPerBlockOptin: 99 << 10} // sm_89
)

func glaDims(B, T, H, K, V int) backend.GLADims {
	off := make([]int, B+1)
	for b := range off {
		off[b] = b * T
	}
	return backend.GLADims{B: B, T: T, H: H, K: K, V: V, Offsets: off}
}

// TestGLAChunkSmem pins the mirror of the kernel's gla::Layout on sizes
// worked by hand: seven 64 x (KT+8) tiles, the 64 x 72 scores, the
// 64 x 136 values, then float32 64 x (KT+8) decays and 8 KT factors.
func TestGLAChunkSmem(t *testing.T) {
	assert.Equal(t, 2*(7*64*136+64*72+64*136)+4*(64*136+8*128), GLAChunkSmem(2, 128))
	assert.Equal(t, 187392, GLAChunkSmem(2, 128))
	assert.Equal(t, 4*(7*64*72+64*72+64*136)+4*(64*72+8*64), GLAChunkSmem(4, 64))
	assert.LessOrEqual(t, GLAChunkSmem(4, 64), 227<<10, "float32 tiles of 64 fit an H100/H200")
	assert.Greater(t, GLAChunkSmem(4, 128), 227<<10, "float32 tiles of 128 do not: none is instantiated")
}

// TestGLAPlan checks the chunked kernel's heuristic: warps by V, the key
// tile by K and by the device's shared memory, the grid, and the choice
// between the kernels.
func TestGLAPlan(t *testing.T) {
	issue := glaDims(8, 4096, 16, 128, 128) // the issue's H200 shape
	fla := glaDims(1, 8192, 96, 128, 128)   // the shape flash-linear-attention publishes
	for _, c := range []struct {
		name              string
		props             device.Props
		d                 backend.GLADims
		dt                tensor.DType
		kernel            string
		keyTiles, vTiles  int
		gridX, gridY, gz  int
		threads, smemWant int
	}{
		{"issue/bf16/h200", glaH200, issue, tensor.BFloat16, "gla_chunk_bf16_k128", 1, 1, 1, 16, 8, 256, GLAChunkSmem(2, 128)},
		{"fla/bf16/h200", glaH200, fla, tensor.BFloat16, "gla_chunk_bf16_k128", 1, 1, 1, 96, 1, 256, GLAChunkSmem(2, 128)},
		{"issue/f32/h200", glaH200, issue, tensor.Float32, "gla_chunk_f32_k64", 2, 1, 2, 16, 8, 256, GLAChunkSmem(4, 64)},
		{"issue/f16/a100", glaA100, issue, tensor.Float16, "gla_chunk_f16_k64", 2, 1, 2, 16, 8, 256, GLAChunkSmem(2, 64)},
		{"issue/bf16/l4", glaL4, issue, tensor.BFloat16, "gla_chunk_bf16_k32", 4, 1, 4, 16, 8, 256, GLAChunkSmem(2, 32)},
		{"small/bf16", glaH200, glaDims(2, 100, 3, 16, 64), tensor.BFloat16, "gla_chunk_bf16_k32", 1, 1, 1, 3, 2, 128, GLAChunkSmem(2, 32)},
		{"k100/v100/f16", glaH200, glaDims(1, 100, 2, 100, 100), tensor.Float16, "gla_chunk_f16_k128", 1, 1, 1, 2, 1, 256, GLAChunkSmem(2, 128)},
		{"v256/f32", glaH200, glaDims(1, 100, 2, 256, 256), tensor.Float32, "gla_chunk_f32_k64", 4, 2, 8, 2, 1, 256, GLAChunkSmem(4, 64)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := glaPlan("gla", c.props, c.d, c.dt, backend.GLAChunked, GLAOptions{})
			require.NoError(t, err)
			assert.Equal(t, GLAChunkedKernel, p.Kernel)
			assert.Equal(t, c.kernel, p.Name)
			assert.Equal(t, c.keyTiles, p.KeyTiles, "key tiles")
			assert.Equal(t, c.vTiles, p.ValueTiles, "value tiles")
			assert.Equal(t, device.D3(c.gridX, c.gridY, c.gz), p.Grid)
			assert.Equal(t, device.D1(c.threads), p.Block)
			assert.Equal(t, c.smemWant, p.Smem)
			assert.LessOrEqual(t, p.Smem, c.props.SharedPerBlockOptin)
			_, ok := glaChunkFns[glaChunkKey{c.dt, p.KeyTile}]
			assert.True(t, ok, "a launch wrapper for %s", p.Name)
		})
	}

	// Kernel choice: the recurrent form, and short sequences of the chunked.
	short := glaDims(4, GLARecurrentMaxLen, 2, 64, 64)
	for _, c := range []struct {
		d    backend.GLADims
		form backend.GLAForm
		o    GLAOptions
		want GLAKernel
	}{
		{issue, backend.GLARecurrent, GLAOptions{}, GLARecurrentKernel},
		{short, backend.GLAChunked, GLAOptions{}, GLARecurrentKernel},
		{glaDims(4, GLARecurrentMaxLen+1, 2, 64, 64), backend.GLAChunked, GLAOptions{}, GLAChunkedKernel},
		{short, backend.GLAChunked, GLAOptions{Kernel: GLAChunkedKernel}, GLAChunkedKernel},
		{issue, backend.GLAChunked, GLAOptions{Kernel: GLARecurrentKernel}, GLARecurrentKernel},
	} {
		p, err := glaPlan("gla", glaH200, c.d, tensor.Float32, c.form, c.o)
		require.NoError(t, err)
		assert.Equal(t, c.want, p.Kernel, "T %d, %v, %+v", c.d.T, c.form, c.o)
	}
	rec, err := glaPlan("gla", glaH200, issue, tensor.BFloat16, backend.GLARecurrent, GLAOptions{})
	require.NoError(t, err)
	assert.Equal(t, "gla_recurrent_bf16", rec.Name)
	assert.Equal(t, device.D3(16, 8, 1), rec.Grid)
	assert.Equal(t, 12*128, rec.Smem)
}

// TestGLAPlanLimits: options out of range and shapes past the grid are
// refused with the right kind.
func TestGLAPlanLimits(t *testing.T) {
	d := glaDims(1, 100, 2, 64, 64)
	chunked := func(o GLAOptions) GLAOptions { o.Kernel = GLAChunkedKernel; return o }
	for _, c := range []struct {
		props device.Props
		d     backend.GLADims
		o     GLAOptions
		kind  error
	}{
		{glaH200, d, chunked(GLAOptions{Warps: 2}), errs.ErrArgument},
		{glaH200, d, chunked(GLAOptions{KeyTile: 16}), errs.ErrArgument},
		{glaL4, d, chunked(GLAOptions{KeyTile: 128}), errs.ErrLimit},
		{device.Props{SharedPerBlockOptin: 48 << 10}, d, chunked(GLAOptions{}), errs.ErrLimit},
		{glaH200, glaDims(70000, 100, 1, 8, 8), chunked(GLAOptions{}), errs.ErrLimit},
		{glaH200, glaDims(70000, 2, 1, 8, 8), GLAOptions{Kernel: GLARecurrentKernel}, errs.ErrLimit},
		{device.Props{SharedPerBlockOptin: 1 << 10}, glaDims(1, 2, 1, 100, 8), GLAOptions{Kernel: GLARecurrentKernel}, errs.ErrLimit},
	} {
		_, err := glaPlan("gla", c.props, c.d, tensor.BFloat16, backend.GLAChunked, c.o)
		assert.ErrorIs(t, err, c.kind, "%+v", c.o)
	}
}
