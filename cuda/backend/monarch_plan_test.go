package backend

import (
	"testing"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// h200 are the limits monarchPlan reads, as an H200 (sm_90) reports them.
var h200 = device.Props{SMs: 132, SharedPerBlockOptin: 227 << 10, SharedPerSM: 228 << 10, MaxThreadsPerSM: 2048}

// TestMonarchPlan checks the launch heuristics' table on the shapes that
// decide each row: the issue's H200 shape, its nblocks=4 variant, small
// blocks with a long batch, a short batch, and a shape where two resident
// blocks beat the largest tile.
func TestMonarchPlan(t *testing.T) {
	issue := monarchDims{batch: 16384, k: 64, q: 64, p: 64, l: 64, s: 64, r: 64} // n = 4096, 64 blocks
	for _, c := range []struct {
		name    string
		kv      *monarchKernels
		d       monarchDims
		path    MonarchPath
		rowTile int
		blocks  int
	}{
		// bf16: 16 rows of the intermediate are 128 KiB; 32 would be 256.
		{"issue/bf16", &monarchBF16, issue, MonarchFused, 16, 132},
		// float32 doubles the intermediate: 16 rows no longer fit.
		{"issue/f32", &monarchF32, issue, MonarchTwoPass, 64, 0},
		{"nblocks4/bf16", &monarchBF16, monarchDims{batch: 16384, k: 4, q: 1024, p: 1024, l: 4, s: 1024, r: 1024}, MonarchTwoPass, 64, 0},
		// 16 x 16 blocks: 64 rows fit three times per SM.
		{"small-blocks/bf16", &monarchBF16, monarchDims{batch: 16384, k: 16, q: 16, p: 16, l: 16, s: 16, r: 16}, MonarchFused, 64, 256},
		// 100 rows cannot give 132 SMs a tile at any size: the smallest tile.
		{"short-batch/bf16", &monarchBF16, monarchDims{batch: 100, k: 16, q: 16, p: 16, l: 16, s: 16, r: 16}, MonarchFused, 16, 7},
		// 32 x 32 blocks: 64 and 48 rows fit once per SM, 32 twice.
		{"two-resident/bf16", &monarchBF16, monarchDims{batch: 16384, k: 32, q: 32, p: 32, l: 32, s: 32, r: 32}, MonarchFused, 32, 264},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := monarchPlan(h200, c.kv, c.d, MonarchOptions{})
			require.NoError(t, err)
			assert.Equal(t, c.path, p.Path)
			assert.Equal(t, c.rowTile, p.RowTile)
			assert.Equal(t, c.blocks, p.Blocks)
			assert.Equal(t, c.kv.name, p.Variant)
			if p.Path == MonarchFused {
				assert.LessOrEqual(t, p.Smem, h200.SharedPerBlockOptin)
				assert.Equal(t, monarchFusedSmem(c.kv, c.d, p.RowTile, p.Group), p.Smem)
			}
		})
	}
}

// TestMonarchFusedSmem pins the shared-memory formula on the issue's shape
// in bfloat16 at 16 rows (FusedLayout in kernels/monarch.cu): the
// intermediate 16 x (64*64 + 8), the output group 16 x 64 x 16, two x
// tiles 16 x (64 + 8) and two weight blocks 64 x (64 + 8), 2 bytes each.
func TestMonarchFusedSmem(t *testing.T) {
	d := monarchDims{batch: 16384, k: 64, q: 64, p: 64, l: 64, s: 64, r: 64}
	want := 2 * (16*(64*64+8) + 16*64*16 + 2*16*(64+8) + 2*64*(64+8))
	assert.Equal(t, want, monarchFusedSmem(&monarchBF16, d, 16, 16))
	// f16 pads like bf16; tf32 and the FMA path pad depth to 8 and rows by 4 floats.
	assert.Equal(t, want, monarchFusedSmem(&monarchF16, d, 16, 16))
	small := monarchDims{k: 2, q: 3, p: 5, l: 3, s: 7, r: 2}
	f := 4 * (16*(3*8+4) + 16*7*8 + 2*16*(8+4) + 2*max(8*(8+4), 8*(8+4)))
	assert.Equal(t, f, monarchFusedSmem(&monarchF32, small, 16, 8))
	assert.Equal(t, f, monarchFusedSmem(&monarchTF32, small, 16, 8))
}

// TestMonarchPlanOptions: forcing a path or tile that cannot run is an
// error of the right kind; a fitting forced choice is taken as given.
func TestMonarchPlanOptions(t *testing.T) {
	issue := monarchDims{batch: 16384, k: 64, q: 64, p: 64, l: 64, s: 64, r: 64}
	_, err := monarchPlan(h200, &monarchF32, issue, MonarchOptions{Path: MonarchFused})
	assert.ErrorIs(t, err, errs.ErrLimit)
	_, err = monarchPlan(h200, &monarchBF16, issue, MonarchOptions{RowTile: 32})
	assert.ErrorIs(t, err, errs.ErrLimit)
	_, err = monarchPlan(h200, &monarchBF16, issue, MonarchOptions{RowTile: 20})
	assert.ErrorIs(t, err, errs.ErrArgument)
	p, err := monarchPlan(h200, &monarchBF16, issue, MonarchOptions{Path: MonarchTwoPass})
	require.NoError(t, err)
	assert.Equal(t, MonarchTwoPass, p.Path)
	p, err = monarchPlan(h200, &monarchBF16, monarchDims{batch: 16384, k: 16, q: 16, p: 16, l: 16, s: 16, r: 16}, MonarchOptions{RowTile: 32, Blocks: 5})
	require.NoError(t, err)
	assert.Equal(t, MonarchFused, p.Path)
	assert.Equal(t, 32, p.RowTile)
	assert.Equal(t, 5, p.Blocks)
}
