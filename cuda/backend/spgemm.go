package backend

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/kernels"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// SpGEMM32 computes C = A*B in float32 with kernels/spgemm.cu (see spgemm).
func (b *Backend) SpGEMM32(ctx context.Context, x, y *sparse.CSR[float32], opt backend.SpGEMMOptions) (*sparse.CSR[float32], error) {
	c, _, err := spgemm(ctx, b, x, y, opt, SpGEMMTuning{}, spgemmF32)
	return c, err
}

// SpGEMM64 computes C = A*B in float64 with kernels/spgemm.cu (see spgemm).
func (b *Backend) SpGEMM64(ctx context.Context, x, y *sparse.CSR[float64], opt backend.SpGEMMOptions) (*sparse.CSR[float64], error) {
	c, _, err := spgemm(ctx, b, x, y, opt, SpGEMMTuning{}, spgemmF64)
	return c, err
}

// SpGEMM32With is SpGEMM32 with the heuristics overridden by t; it also
// returns the plan that ran.
func (b *Backend) SpGEMM32With(ctx context.Context, x, y *sparse.CSR[float32], opt backend.SpGEMMOptions, t SpGEMMTuning) (*sparse.CSR[float32], SpGEMMPlan, error) {
	return spgemm(ctx, b, x, y, opt, t, spgemmF32)
}

// SpGEMM64With is SpGEMM64 with the heuristics overridden by t; it also
// returns the plan that ran.
func (b *Backend) SpGEMM64With(ctx context.Context, x, y *sparse.CSR[float64], opt backend.SpGEMMOptions, t SpGEMMTuning) (*sparse.CSR[float64], SpGEMMPlan, error) {
	return spgemm(ctx, b, x, y, opt, t, spgemmF64)
}

// spgemmFill is a value type's fill kernels.
type spgemmFill struct {
	shared func(d device.Device, s device.Stream, grid, block device.Dim3, smem int, arp, acol, aval, brp, bcol, bval, rows device.Ptr, nrows, log2s, rowsPerBlock int32, crp, ccol, cval device.Ptr) error
	global func(d device.Device, s device.Stream, grid, block device.Dim3, smem int, arp, acol, aval, brp, bcol, bval, rows device.Ptr, nrows, log2s int32, table, tvals, crp, ccol, cval device.Ptr) error
}

var (
	spgemmF32 = spgemmFill{kernels.SpgemmFillSharedF32, kernels.SpgemmFillGlobalF32}
	spgemmF64 = spgemmFill{kernels.SpgemmFillSharedF64, kernels.SpgemmFillGlobalF64}
)

// spgemm is Gustavson's row-wise product in the two phases of the GPU
// SpGEMM literature (kernels/spgemm.cu, spgemm_plan.go): the host computes
// each row's work (one pass over A's column indices, which also guards the
// int64 FLOP count) and bins the rows by their bound; the count kernels
// find each row's exact nnz with hash tables, which the host scans into
// C's row pointers; the fill kernels accumulate the values with atomics
// into tables as large as each row, sort them by column and write C.
// Every device buffer and C on the host count against the memory limit,
// checked before each phase allocates.
func spgemm[T sparse.Float](ctx context.Context, b *Backend, x, y *sparse.CSR[T], opt backend.SpGEMMOptions, t SpGEMMTuning, fill spgemmFill) (*sparse.CSR[T], SpGEMMPlan, error) {
	const op = "spgemm"
	var plan SpGEMMPlan
	if err := sparse.CheckProduct(x, y); err != nil {
		return nil, plan, err
	}
	lim, err := sparse.NewSpGEMMLimit(x.Rows, y.Cols, opt.MaxBytes)
	if err != nil {
		return nil, plan, err
	}
	if err := t.check(); err != nil {
		return nil, plan, err
	}
	limit, rowPtrBytes := lim.Bytes, lim.RowPtrBytes()
	vb := int64(unsafe.Sizeof(T(0)))
	c := &sparse.CSR[T]{Rows: x.Rows, Cols: y.Cols, RowPtr: make([]int64, x.Rows+1), ColInd: []int32{}, Val: []T{}}
	work := make([]int64, x.Rows)
	total, err := sparse.SpGEMMWork(x, y, work)
	if err != nil {
		return nil, plan, err
	}
	if total == 0 { // no partial product: C is empty, nothing to run
		return c, plan, ctx.Err()
	}
	for i, w := range work { // the count's bound
		work[i] = min(w, int64(y.Cols))
	}
	props := b.props()
	const keyBytes = spgemmKeyBytes
	fillSlot := keyBytes + int(vb)
	if plan.Count, err = spgemmBins(props, work, keyBytes, t); err != nil {
		return nil, plan, err
	}
	// Device: A and B (once for A*A), the counts, the bins' row lists;
	// host: C's row pointers (above). The global count tables get what is
	// left.
	need := newSpGEMMBytes()
	operands := []*sparse.CSR[T]{x, y}
	if y == x { // A*A: A goes to the device once
		operands = operands[:1]
	}
	for _, m := range operands {
		need.add(int64(m.Rows)+1, 8)
		need.add(m.NNZ(), keyBytes+vb)
	}
	need.add(int64(x.Rows), 4+spgemmRowIndexBytes) // counts, row lists
	need.add(rowPtrBytes, 1)
	if err := lim.Fits(total, need.total, need.ok, "the count phase"); err != nil {
		return nil, plan, err
	}
	if err := spgemmFitGlobal(props, plan.Count, keyBytes, limit-need.total, t); err != nil {
		return nil, plan, err
	}
	need.add(spgemmTableBytes(plan.Count, keyBytes), 1)
	if err := ctx.Err(); err != nil {
		return nil, plan, err
	}

	cl, err := b.begin(ctx)
	if err != nil {
		return nil, plan, err
	}
	err = func() error {
		var p spgemmBuffers
		var err error
		if p.arp, p.acol, p.aval, err = uploadCSR(cl, x); err != nil {
			return err
		}
		if y == x {
			p.brp, p.bcol, p.bval = p.arp, p.acol, p.aval
		} else if p.brp, p.bcol, p.bval, err = uploadCSR(cl, y); err != nil {
			return err
		}
		counts := make([]int32, x.Rows)
		nnz, err := cl.alloc(4 * x.Rows)
		if err != nil {
			return err
		}
		if err := cl.MemsetAsync(nnz, 0, 4*x.Rows, cl.s); err != nil {
			return errs.Device(op, err, "memset of the counts")
		}
		if err := cl.spgemmCount(p, plan.Count, keyBytes, nnz); err != nil {
			return err
		}
		if err := cl.download(device.Bytes(counts), nnz); err != nil {
			return err
		}
		if err := cl.wait(); err != nil {
			return err
		}
		for i, n := range counts { // the exclusive scan: C's row pointers
			c.RowPtr[i+1] = c.RowPtr[i] + int64(n)
		}
		madds, total := total, c.NNZ()
		if err := ctx.Err(); err != nil {
			return err
		}

		// C on the device and the host, the fill's row lists and C's row
		// pointers on the device; the global fill tables get what is left.
		bound := work
		for i, n := range counts {
			bound[i] = int64(n)
		}
		if plan.Fill, err = spgemmBins(props, bound, fillSlot, t); err != nil {
			return err
		}
		need.add(total, 2*(keyBytes+vb))
		need.add(int64(x.Rows), spgemmRowIndexBytes)
		need.add(rowPtrBytes, 1)
		if err := lim.Fits(madds, need.total, need.ok, fmt.Sprintf("C with %d entries", total)); err != nil {
			return err
		}
		if err := spgemmFitGlobal(props, plan.Fill, fillSlot, limit-need.total, t); err != nil {
			return err
		}
		c.ColInd, c.Val = make([]int32, total), make([]T, total)
		if p.crp, err = cl.upload(device.Bytes(c.RowPtr)); err != nil {
			return err
		}
		if p.ccol, err = cl.alloc(int(total) * keyBytes); err != nil {
			return err
		}
		if p.cval, err = cl.alloc(int(total * vb)); err != nil {
			return err
		}
		if err := cl.spgemmFill(p, plan.Fill, fillSlot, fill); err != nil {
			return err
		}
		if err := cl.download(device.Bytes(c.ColInd), p.ccol); err != nil {
			return err
		}
		return cl.download(device.Bytes(c.Val), p.cval)
	}()
	if err := cl.end(err); err != nil {
		return nil, plan, err
	}
	return c, plan, nil
}

// check refuses overrides the kernels cannot run.
func (t SpGEMMTuning) check() error {
	const op = "spgemm"
	if s := t.MaxSharedSlots; s != 0 && (s < 1<<spgemmMinLog2 || s&(s-1) != 0) {
		return errs.Argument(op, "max shared slots %d is not a power of two >= %d", s, 1<<spgemmMinLog2)
	}
	if n := t.GlobalThreads; n != 0 && (n < 32 || n%32 != 0 || n > spgemmMaxThreads) {
		return errs.Argument(op, "global threads %d is not a multiple of 32 in [32, %d]", n, spgemmMaxThreads)
	}
	if t.GlobalBlocks < 0 {
		return errs.Argument(op, "global blocks %d < 0", t.GlobalBlocks)
	}
	return nil
}

// spgemmBuffers are the operands and C on the device.
type spgemmBuffers struct {
	arp, acol, aval, brp, bcol, bval device.Ptr
	crp, ccol, cval                  device.Ptr
}

// uploadCSR copies m's arrays to the device.
func uploadCSR[T sparse.Float](c *call, m *sparse.CSR[T]) (rp, col, val device.Ptr, err error) {
	if rp, err = c.upload(device.Bytes(m.RowPtr)); err != nil {
		return
	}
	if col, err = c.upload(device.Bytes(m.ColInd)); err != nil {
		return
	}
	val, err = c.upload(device.Bytes(m.Val))
	return
}

// spgemmLaunch uploads each bin's rows and launches the bin with shared or
// global, as the bin's tables are.
func (c *call) spgemmLaunch(bins []SpGEMMBin, shared, global func(bin SpGEMMBin, rows device.Ptr, n, l int32, grid, block device.Dim3) error) error {
	for _, bin := range bins {
		rows, err := c.upload(device.Bytes(bin.Rows))
		if err != nil {
			return err
		}
		launch := shared
		if bin.Global {
			launch = global
		}
		if err := launch(bin, rows, int32(len(bin.Rows)), int32(bin.Log2Slots), device.D1(bin.Blocks), device.D1(bin.Threads)); err != nil {
			return err
		}
	}
	return nil
}

// spgemmCount launches the count phase's bins.
func (c *call) spgemmCount(p spgemmBuffers, bins []SpGEMMBin, slot int, nnz device.Ptr) error {
	return c.spgemmLaunch(bins, func(bin SpGEMMBin, rows device.Ptr, n, l int32, grid, block device.Dim3) error {
		return kernels.SpgemmCountShared(c, c.s, grid, block, bin.Smem, p.arp, p.acol, p.brp, p.bcol, rows, n, l, int32(bin.RowsPerBlock), nnz)
	}, func(bin SpGEMMBin, rows device.Ptr, n, l int32, grid, block device.Dim3) error {
		table, err := c.alloc(bin.Blocks << bin.Log2Slots * slot)
		if err != nil {
			return err
		}
		return kernels.SpgemmCountGlobal(c, c.s, grid, block, 0, p.arp, p.acol, p.brp, p.bcol, rows, n, l, table, nnz)
	})
}

// spgemmFill launches the fill phase's bins.
func (c *call) spgemmFill(p spgemmBuffers, bins []SpGEMMBin, slot int, fill spgemmFill) error {
	return c.spgemmLaunch(bins, func(bin SpGEMMBin, rows device.Ptr, n, l int32, grid, block device.Dim3) error {
		return fill.shared(c, c.s, grid, block, bin.Smem, p.arp, p.acol, p.aval, p.brp, p.bcol, p.bval, rows, n, l, int32(bin.RowsPerBlock), p.crp, p.ccol, p.cval)
	}, func(bin SpGEMMBin, rows device.Ptr, n, l int32, grid, block device.Dim3) error {
		keys, err := c.alloc(bin.Blocks << bin.Log2Slots * spgemmKeyBytes)
		if err != nil {
			return err
		}
		vals, err := c.alloc(bin.Blocks << bin.Log2Slots * (slot - spgemmKeyBytes))
		if err != nil {
			return err
		}
		return fill.global(c, c.s, grid, block, 0, p.arp, p.acol, p.aval, p.brp, p.bcol, p.bval, rows, n, l, keys, vals, p.crp, p.ccol, p.cval)
	})
}
