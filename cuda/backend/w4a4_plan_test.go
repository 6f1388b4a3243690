package backend

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/errs"
)

// TestW4A4Plan checks the row-tile heuristic and the grid: 16 rows for M
// <= 16 and when 64-row blocks would not fill the multiprocessors, 64
// otherwise; forced tiles; the grid's column limit.
func TestW4A4Plan(t *testing.T) {
	h200 := device.Props{SMs: 132}
	for _, c := range []struct {
		m, n, tile int
		o          W4A4Options
	}{
		{1, 4096, 16, W4A4Options{}},
		{16, 1 << 16, 16, W4A4Options{}},
		{256, 1024, 16, W4A4Options{}},  // 4 x 16 = 64 blocks of 64 rows < 132 SMs
		{4096, 4096, 64, W4A4Options{}}, // 64 x 64 blocks
		{1024, 8448, 64, W4A4Options{}}, // exactly 132 blocks of 64 rows
		{4096, 4096, 16, W4A4Options{RowTile: 16}},
		{3, 5, 64, W4A4Options{RowTile: 64}},
	} {
		p, err := w4a4Plan(h200, c.m, c.n, c.o)
		require.NoError(t, err)
		assert.Equal(t, c.tile, p.RowTile, "m=%d n=%d %+v", c.m, c.n, c.o)
		assert.Equal(t, "w4a4_gemm_m"+map[int]string{16: "16", 64: "64"}[c.tile], p.Name)
		assert.Equal(t, device.D3((c.m+c.tile-1)/c.tile, (c.n+63)/64, 1), p.Grid)
		assert.Equal(t, device.D3(128, 1, 1), p.Block)
	}
	_, err := w4a4Plan(h200, 4, 4, W4A4Options{RowTile: 32})
	assert.ErrorIs(t, err, errs.ErrArgument)
	_, err = w4a4Plan(h200, 4, 65535*64, W4A4Options{})
	assert.NoError(t, err)
	_, err = w4a4Plan(h200, 4, 65535*64+1, W4A4Options{})
	assert.ErrorIs(t, err, errs.ErrLimit)
}
