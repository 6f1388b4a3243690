//go:build cudasim

package backend_test

import (
	"fmt"
	"math"
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var glaDTypes = []tensor.DType{tensor.Float32, tensor.Float16, tensor.BFloat16}

// glaCase is a GLA problem with the chunked kernel's options and the plan
// they must give (key tiles, value tiles), so that each case is known to
// take the branch it is named for.
type glaCase struct {
	c       conformance.GLACase
	o       cudabackend.GLAOptions
	keyTile map[tensor.DType]int // expected key tile per dtype (key tiles follow from K)
	vtiles  int                  // expected value tiles
}

// TestGLAChunked runs gla_chunk_* on the simulator against the float64
// reference for float32, float16 and bfloat16, at the spec's tolerances
// (float32: 1e-4 relative RMS on o and ht, which the 3xTF32 products meet;
// float16/bfloat16: 1e-2), o and ht poisoned. The cases cover T not a
// multiple of 64 (1, 15, 65, 130), K and V of 16, 64, 100, 128 (partial key
// and value tiles, several key tiles summed by gla_chunk_reduce, several
// value tiles, warps without values), 16-byte and element staging (K or V
// not a multiple of 16 bytes), odd V (element stores), h0 and ht, varlen
// with an empty sequence (int32 and int64 cu_seqlens) and with no tokens at
// all (ht = h0), and strong decay (gates of -1e4 and -Inf: no NaN).
func TestGLAChunked(t *testing.T) {
	b := openSim(t)
	halves := func(f32, half int) map[tensor.DType]int {
		return map[tensor.DType]int{tensor.Float32: f32, tensor.Float16: half, tensor.BFloat16: half}
	}
	cases := map[string]glaCase{
		"T1/K16/V16":   {c: conformance.GLACase{B: 1, T: 1, H: 1, K: 16, V: 16, H0: true}, keyTile: halves(32, 32), vtiles: 1},
		"T15/K64/V16":  {c: conformance.GLACase{B: 2, T: 15, H: 2, K: 64, V: 16}, keyTile: halves(64, 64), vtiles: 1},
		"T65/K100/V64": {c: conformance.GLACase{B: 1, T: 65, H: 2, K: 100, V: 64, H0: true}, keyTile: halves(64, 128), vtiles: 1},
		"T130/K128/V100/w8": {c: conformance.GLACase{B: 1, T: 130, H: 1, K: 128, V: 100, H0: true},
			keyTile: halves(64, 128), vtiles: 1},
		"T70/K40/V100/w4": {c: conformance.GLACase{B: 1, T: 70, H: 1, K: 40, V: 100}, o: cudabackend.GLAOptions{Warps: 4},
			keyTile: halves(64, 64), vtiles: 2},
		"varlen32": {c: conformance.GLACase{B: 1, T: 90, H: 1, K: 32, V: 24, CuSeqlens: []int{0, 20, 20, 90}, H0: true},
			keyTile: halves(32, 32), vtiles: 1},
		"varlen64": {c: conformance.GLACase{B: 1, T: 80, H: 2, K: 20, V: 8, CuSeqlens: []int{0, 0, 64, 80}, Int64: true},
			keyTile: halves(32, 32), vtiles: 1},
		"strong": {c: conformance.GLACase{B: 2, T: 80, H: 1, K: 32, V: 32, H0: true, Strong: true},
			keyTile: halves(32, 32), vtiles: 1},
		"V7/odd": {c: conformance.GLACase{B: 1, T: 33, H: 3, K: 24, V: 7, H0: true}, keyTile: halves(32, 32), vtiles: 1},
		"no tokens": {c: conformance.GLACase{B: 1, T: 0, H: 2, K: 16, V: 16, CuSeqlens: []int{0, 0, 0}, H0: true},
			keyTile: halves(32, 32), vtiles: 1},
	}
	for name, c := range cases {
		for _, dt := range glaDTypes {
			t.Run(fmt.Sprintf("%s/%v", name, dt), func(t *testing.T) {
				p := c.c.New(t, newRand(t), dt)
				o := c.o
				o.Kernel = cudabackend.GLAChunkedKernel
				plan, err := b.GLAPlanFor(p.Args, o)
				require.NoError(t, err)
				assert.Equal(t, cudabackend.GLAChunkedKernel, plan.Kernel)
				assert.Equal(t, c.keyTile[dt], plan.KeyTile, "key tile (%s)", plan.Name)
				assert.Equal(t, (c.c.K+plan.KeyTile-1)/plan.KeyTile, plan.KeyTiles, "key tiles")
				assert.Equal(t, c.vtiles, plan.ValueTiles, "value tiles")
				p.Args.Scale = 0.3
				require.NoError(t, b.GLAForwardWith(t.Context(), p.Args, o))
				p.Check(t, 0.3)
			})
		}
	}
}

// TestGLAChunkedK256 covers K = V = 256: two key tiles of 128 (float16,
// bfloat16) or four of 64 (float32), two value tiles of 128, two chunks.
func TestGLAChunkedK256(t *testing.T) {
	b := openSim(t)
	for _, dt := range glaDTypes {
		t.Run(dt.String(), func(t *testing.T) {
			p := conformance.GLACase{B: 1, T: 70, H: 1, K: 256, V: 256, H0: true}.New(t, newRand(t), dt)
			o := cudabackend.GLAOptions{Kernel: cudabackend.GLAChunkedKernel}
			plan, err := b.GLAPlanFor(p.Args, o)
			require.NoError(t, err)
			assert.Equal(t, 2, plan.ValueTiles)
			assert.Equal(t, 256/plan.KeyTile, plan.KeyTiles)
			require.NoError(t, b.GLAForwardWith(t.Context(), p.Args, o))
			p.Check(t, 1/16.0)
		})
	}
}

// TestGLAKernelChoice: GLAAuto runs the recurrent kernel for the
// recurrent form and for short sequences, the chunked one otherwise; both
// compute the reference's function.
func TestGLAKernelChoice(t *testing.T) {
	b := openSim(t)
	for _, c := range []struct {
		c    conformance.GLACase
		form backend.GLAForm
		want cudabackend.GLAKernel
	}{
		{conformance.GLACase{B: 3, T: cudabackend.GLARecurrentMaxLen, H: 1, K: 8, V: 8}, backend.GLAChunked, cudabackend.GLARecurrentKernel},
		{conformance.GLACase{B: 1, T: cudabackend.GLARecurrentMaxLen + 1, H: 1, K: 8, V: 8}, backend.GLAChunked, cudabackend.GLAChunkedKernel},
		{conformance.GLACase{B: 1, T: 20, H: 1, K: 8, V: 8}, backend.GLARecurrent, cudabackend.GLARecurrentKernel},
	} {
		for _, dt := range glaDTypes {
			t.Run(fmt.Sprintf("T%d/%v/%v", c.c.T, c.form, dt), func(t *testing.T) {
				p := c.c.New(t, newRand(t), dt)
				p.Args.Form = c.form
				plan, err := b.GLAPlanFor(p.Args, cudabackend.GLAOptions{})
				require.NoError(t, err)
				assert.Equal(t, c.want, plan.Kernel, plan.Name)
				require.NoError(t, b.GLAForward(t.Context(), p.Args))
				p.Check(t, 1/math.Sqrt(8))
			})
		}
	}
}

// TestGLAErrors: what the kernels do not take is refused with the right
// kind before any device work.
func TestGLAErrors(t *testing.T) {
	b := openSim(t)
	ctx := t.Context()
	p := conformance.GLACase{B: 1, T: 70, H: 1, K: 8, V: 8}.New(t, newRand(t), tensor.Float32)
	for _, c := range []struct {
		o    cudabackend.GLAOptions
		kind error
	}{
		{cudabackend.GLAOptions{Kernel: cudabackend.GLAChunkedKernel, Warps: 6}, errs.ErrArgument},
		{cudabackend.GLAOptions{Kernel: cudabackend.GLAChunkedKernel, KeyTile: 128}, errs.ErrArgument}, // float32 tiles stop at 64
		{cudabackend.GLAOptions{Kernel: cudabackend.GLAChunkedKernel, KeyTile: 48}, errs.ErrArgument},
		{cudabackend.GLAOptions{Kernel: cudabackend.GLAKernel(9)}, errs.ErrArgument},
	} {
		assert.ErrorIs(t, b.GLAForwardWith(ctx, p.Args, c.o), c.kind, "%+v", c.o)
	}
	p64 := conformance.GLACase{B: 1, T: 3, H: 1, K: 4, V: 4}.New(t, newRand(t), tensor.Float64)
	assert.ErrorIs(t, b.GLAForward(ctx, p64.Args), errs.ErrUnsupported, "float64")
	bad := p.Args
	bad.O = f32(t, 1, 70, 1, 9)
	assert.ErrorIs(t, b.GLAForward(ctx, bad), errs.ErrShape, "arguments are validated")
}
