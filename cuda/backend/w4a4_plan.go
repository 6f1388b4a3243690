package backend

import (
	"fmt"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/kernels"
	"github.com/matmix/matmix/engine/errs"
)

// W4A4Options choose the W4A4 kernel's row tile; the zero value is the
// backend's choice.
type W4A4Options struct {
	// RowTile is the rows per block: 16 (w4a4_gemm_m16) or 64
	// (w4a4_gemm_m64); 0: see w4a4Plan.
	RowTile int
}

// W4A4Plan is what a W4A4 GEMM runs.
type W4A4Plan struct {
	Name    string // w4a4_gemm_m16 or w4a4_gemm_m64
	RowTile int
	Grid    device.Dim3
	Block   device.Dim3
}

// Fixed by kernels/w4a4.cu.
const (
	w4a4ColTile = 64
	w4a4Threads = 128
	w4a4MaxGrid = 65535 // grid.y holds the column tiles
)

// w4a4Fn is the generated launch wrapper of both W4A4 kernels.
type w4a4Fn func(d device.Device, s device.Stream, grid, block device.Dim3, smem int,
	a, w, info, sa, sw, y device.Ptr, M, N, S, G int32) error

func w4a4Kernel(rowTile int) w4a4Fn {
	if rowTile == 16 {
		return kernels.W4a4GemmM16
	}
	return kernels.W4a4GemmM64
}

// w4a4Plan picks the row tile. A block of 64 rows reads each weight tile
// once for 64 rows, 4x less weight traffic than one of 16, so it is the
// default; 16 rows wins when M is at most 16 (no rows computed for
// nothing) or when 64-row blocks would leave multiprocessors idle (few
// rows, the decode-like shapes that W4A4 serves: more blocks then beat
// reuse, as the GEMM is bound by reading the weights). A heuristic, not a
// measurement.
func w4a4Plan(props device.Props, m, n int, o W4A4Options) (W4A4Plan, error) {
	const op = "w4a4"
	tile := o.RowTile
	switch tile {
	case 0:
		tile = 64
		if m <= 16 || monarchCeil(m, 64)*monarchCeil(n, w4a4ColTile) < props.SMs {
			tile = 16
		}
	case 16, 64:
	default:
		return W4A4Plan{}, errs.Argument(op, "row tile %d: the kernels take 16 or 64", o.RowTile)
	}
	cols := monarchCeil(n, w4a4ColTile)
	if cols > w4a4MaxGrid {
		return W4A4Plan{}, errs.Limit(op, "%d columns exceed the kernel's %d (grid.y of %d-column tiles)", n, w4a4MaxGrid*w4a4ColTile, w4a4ColTile)
	}
	return W4A4Plan{
		Name:    fmt.Sprintf("w4a4_gemm_m%d", tile),
		RowTile: tile,
		Grid:    device.D3(monarchCeil(m, tile), cols, 1),
		Block:   device.D3(w4a4Threads, 1, 1),
	}, nil
}
