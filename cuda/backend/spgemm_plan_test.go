package backend

import (
	"testing"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSpGEMMBinGeometry checks the table of spgemm_plan.go: table sizes
// from the bounds, rows and threads a block, shared memory, the largest
// shared table per slot size, and the global bin.
func TestSpGEMMBinGeometry(t *testing.T) {
	h100 := h200 // the same limits (the simulator's)
	h100.MaxThreadsPerBlock = 1024
	assert.Equal(t, 15, spgemmMaxSharedLog2(h100, 4, SpGEMMTuning{}), "count: 128 KiB of keys")
	assert.Equal(t, 14, spgemmMaxSharedLog2(h100, 8, SpGEMMTuning{}), "float32 fill")
	assert.Equal(t, 14, spgemmMaxSharedLog2(h100, 12, SpGEMMTuning{}), "float64 fill")
	assert.Equal(t, 6, spgemmMaxSharedLog2(h100, 12, SpGEMMTuning{MaxSharedSlots: 64}))
	assert.Equal(t, 12, spgemmMaxSharedLog2(device.Props{SharedPerBlock: 48 << 10}, 12, SpGEMMTuning{}), "no opt-in: 48 KiB")

	// Bounds 0 (skipped), 1, 16 (32 slots), 17 (64), 300 (1024), 1500
	// (4096), 5000 (16384), 9000 (global at 12 bytes a slot).
	bound := []int64{0, 1, 16, 17, 300, 1500, 5000, 9000, 20000}
	bins, err := spgemmBins(h100, bound, 12, SpGEMMTuning{})
	require.NoError(t, err)
	type geo struct{ log2, rows, threads, smem, blocks, n int }
	var got []geo
	for _, b := range bins {
		if !b.Global {
			got = append(got, geo{b.Log2Slots, b.RowsPerBlock, b.Threads, b.Smem, b.Blocks, len(b.Rows)})
		}
	}
	assert.Equal(t, []geo{
		{5, 32, 256, 32 * 32 * 12, 1, 2}, // rows 1 and 2 share a block
		{6, 16, 256, 16 * 64 * 12, 1, 1},
		{10, 1, 256, 1024 * 12, 1, 1},
		{12, 1, 1024, 4096 * 12, 1, 1},
		{14, 1, 1024, 16384 * 12, 1, 1},
	}, got)
	last := bins[len(bins)-1]
	require.True(t, last.Global)
	assert.Equal(t, 16, last.Log2Slots, "sized for the longest row (20000)")
	assert.Equal(t, []int32{7, 8}, last.Rows)
	assert.Equal(t, 1024, last.Threads)

	// The global bin's blocks: two per SM, at most a row each, within room.
	table := int64(12) << 16
	require.NoError(t, spgemmFitGlobal(h100, bins, 12, 1<<40, SpGEMMTuning{}))
	assert.Equal(t, 2, bins[len(bins)-1].Blocks, "one a row")
	many := []SpGEMMBin{{Log2Slots: 16, Global: true, Rows: make([]int32, 1000)}}
	require.NoError(t, spgemmFitGlobal(h100, many, 12, 1<<40, SpGEMMTuning{}))
	assert.Equal(t, 264, many[0].Blocks, "two per SM")
	require.NoError(t, spgemmFitGlobal(h100, many, 12, 3*table+1, SpGEMMTuning{}))
	assert.Equal(t, 3, many[0].Blocks, "what the room allows")
	assert.Equal(t, 3*table, spgemmTableBytes(many, 12))
	assert.ErrorIs(t, spgemmFitGlobal(h100, many, 12, table-1, SpGEMMTuning{}), errs.ErrLimit)

	// Tables past 2^30 slots are refused.
	_, err = spgemmBins(h100, []int64{1 << 30}, 4, SpGEMMTuning{})
	assert.ErrorIs(t, err, errs.ErrLimit)
}

// TestSpGEMMBytes checks the overflow-safe byte sum.
func TestSpGEMMBytes(t *testing.T) {
	b := newSpGEMMBytes()
	b.add(3, 4)
	b.add(1, 5)
	assert.Equal(t, spgemmBytes{total: 17, ok: true}, b)
	b.add(1<<62, 4)
	assert.False(t, b.ok)
	b = newSpGEMMBytes()
	b.add(1<<62, 1)
	b.add(1<<62, 1)
	assert.False(t, b.ok)
}
