package gemm

import "sync"

// blocking holds the cache block sizes: a kc x nr micro-panel of B stays in
// L1 while the micro-kernel sweeps the mc rows of the packed block of A (in
// L2) past it; the kc x nc block of B lives in L3. parFlops is the least
// work (2mnk) worth a second goroutine. Tests shrink all four to reach every
// loop edge and the parallel paths with small operands.
type blocking struct {
	kc, mc, nc int
	parFlops   float64
}

// defaultBlocking suits the 48 KiB L1d and 2 MiB L2 of current x86 cores:
// kc*32 floats of B is 32 KiB, an mc x kc block of A 192 KiB; a product
// under about 10 µs of one core stays on one goroutine.
func defaultBlocking() blocking { return blocking{kc: 256, mc: 192, nc: 3072, parFlops: 1 << 21} }

// kernelFunc computes an mr x nr tile of C from packed panels: C (+)= A·B.
type kernelFunc func(kc int, a, b, c *float32, ldc int, load bool)

// directFunc is a kernelFunc reading A in place: mr rows of row stride lda,
// contiguous along k.
type directFunc func(kc int, a *float32, lda int, b, c *float32, ldc int, load bool)

// microKernel is one register-blocked tile shape and its code; direct (nil
// if none) is the same tile with A read in place.
type microKernel struct {
	name   string
	mr, nr int
	fn     kernelFunc
	direct directFunc
}

// directPanels is the most column panels of B for which A is read in place
// rather than packed: each row panel of A is then read at most this many
// times, cheaper than copying it once (BLIS's "sup" kernels make the same
// trade for skinny products).
const directPanels = 4

// useDirect reports whether the product reads A in place: the kernel has a
// direct form, A's rows are contiguous, and C has few column panels.
func useDirect(kern microKernel, a Matrix, n int) bool {
	_, cs := a.strides()
	return kern.direct != nil && cs == 1 && n <= directPanels*kern.nr
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

func ceilDiv(x, m int) int { return (x + m - 1) / m }

// offset is the view of m starting at element (i, j).
func (m Matrix) offset(i, j int) Matrix {
	rs, cs := m.strides()
	m.Data = m.Data[i*rs+j*cs:]
	return m
}

// matMul is MatMul with a given kernel and blocking; ws (nil: a fresh one)
// serves the single-goroutine case.
func matMul(kern microKernel, blk blocking, m, n, k int, a, b Matrix, c []float32, ldc int, acc bool, threads int, ws *Workspace) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		clearUnlessAcc(m, n, c, ldc, acc)
		return
	}
	_ = c[(m-1)*ldc+n-1] // the kernels write whole tiles of C unchecked
	if 2*float64(m)*float64(n)*float64(k) < blk.parFlops {
		threads = 1
	}
	rowPanels, colPanels := ceilDiv(m, kern.mr), ceilDiv(n, kern.nr)
	switch {
	case threads > 1 && rowPanels >= threads:
		matMulRows(kern, blk, m, n, k, a, b, c, ldc, acc, threads)
	case threads > 1 && colPanels > 1:
		// Too few rows to share: split the columns, each worker packing
		// the (small) A itself.
		parts := min(threads, colPanels)
		var wg sync.WaitGroup
		for p := range parts {
			j0, j1 := p*colPanels/parts*kern.nr, min((p+1)*colPanels/parts*kern.nr, n)
			wg.Go(func() {
				matMulSerial(kern, blk, m, j1-j0, k, a, b.offset(0, j0), nil, c[j0:], ldc, acc, new(Workspace))
			})
		}
		wg.Wait()
	default:
		if ws == nil {
			ws = new(Workspace)
		}
		matMulSerial(kern, blk, m, n, k, a, b, nil, c, ldc, acc, ws)
	}
}

// clearUnlessAcc is the product with k = 0: C = 0, or C unchanged.
func clearUnlessAcc(m, n int, c []float32, ldc int, acc bool) {
	if !acc {
		for i := range m {
			clear(c[i*ldc : i*ldc+n])
		}
	}
}

// matMulSerial runs the five loops around the micro-kernel on one goroutine.
// B is packed block by block into ws, or taken from pb when it is not nil.
func matMulSerial(kern microKernel, blk blocking, m, n, k int, a, b Matrix, pb *PackedB, c []float32, ldc int, acc bool, ws *Workspace) {
	direct := useDirect(kern, a, n)
	kcMax := min(k, blk.kc)
	nb := kcMax * min(roundUp(n, kern.nr), blk.nc)
	if pb != nil {
		nb = 0
	}
	aPack, bPack := ws.buffers(min(roundUp(m, kern.mr), blk.mc)*kcMax, nb)
	for pc := 0; pc < k; pc += blk.kc {
		kcb := min(blk.kc, k-pc)
		load := acc || pc > 0
		for jc := 0; jc < n; jc += blk.nc {
			ncb := min(blk.nc, n-jc)
			if pb != nil {
				bPack = pb.block(pc, kcb, jc)
			} else {
				packB(b, pc, kcb, jc, ncb, kern.nr, bPack)
			}
			for ic := 0; ic < m; ic += blk.mc {
				rowBlock(kern, a, ic, min(blk.mc, m-ic), pc, kcb, ncb, aPack, bPack, c[ic*ldc+jc:], ldc, load, direct, &ws.tile)
			}
		}
	}
}

// matMulRows splits the rows of C over threads workers, in whole panels of
// the micro-kernel so that the shares differ by at most one panel. The
// workers pack each block of B together, then each packs its own blocks of
// A and runs the micro-kernel over its rows.
func matMulRows(kern microKernel, blk blocking, m, n, k int, a, b Matrix, c []float32, ldc int, acc bool, threads int) {
	mr, nr := kern.mr, kern.nr
	kcMax := min(k, blk.kc)
	ncMax := min(roundUp(n, nr), blk.nc)
	bPack := make([]float32, kcMax*ncMax)
	aPacks := make([][]float32, threads)
	tiles := make([]tileBuf, threads)
	for w := range aPacks {
		aPacks[w] = make([]float32, min(roundUp(m, mr), blk.mc)*kcMax)
	}
	rowPanels := ceilDiv(m, mr)
	direct := useDirect(kern, a, n)
	var wg sync.WaitGroup
	for pc := 0; pc < k; pc += blk.kc {
		kcb := min(blk.kc, k-pc)
		load := acc || pc > 0
		for jc := 0; jc < n; jc += blk.nc {
			ncb := min(blk.nc, n-jc)
			colPanels := ceilDiv(ncb, nr)
			for w := range threads {
				p0, p1 := w*colPanels/threads, (w+1)*colPanels/threads
				if p0 == p1 {
					continue
				}
				wg.Go(func() {
					packB(b, pc, kcb, jc+p0*nr, min(p1*nr, ncb)-p0*nr, nr, bPack[p0*nr*kcb:])
				})
			}
			wg.Wait()
			for w := range threads {
				r0, r1 := w*rowPanels/threads*mr, min((w+1)*rowPanels/threads*mr, m)
				wg.Go(func() {
					for ic := r0; ic < r1; ic += blk.mc {
						rowBlock(kern, a, ic, min(blk.mc, r1-ic), pc, kcb, ncb, aPacks[w], bPack, c[ic*ldc+jc:], ldc, load, direct, &tiles[w])
					}
				})
			}
			wg.Wait()
		}
	}
}

// tileBuf holds one edge tile of C: a kernel writes whole tiles, of which
// only a corner is then copied out. It lives with the packing buffers (the
// kernels' pointer arguments would make a local array escape each call).
type tileBuf [16 * 64]float32

// rowBlock computes rows [ic, ic+mcb) of a kc x nc block step against the
// packed block of B: with A packed into aPack, or with A's whole row panels
// read in place (direct) and only a last partial panel packed.
func rowBlock(kern microKernel, a Matrix, ic, mcb, pc, kcb, ncb int, aPack, bPack, c []float32, ldc int, load, direct bool, tmp *tileBuf) {
	if !direct {
		packA(a, ic, mcb, pc, kcb, kern.mr, aPack)
		macroKernel(kern, mcb, ncb, kcb, aPack, bPack, c, ldc, load, tmp)
		return
	}
	full := mcb / kern.mr * kern.mr
	if full > 0 {
		lda := a.Stride
		base := ic*lda + pc
		_ = a.Data[base+(full-1)*lda+kcb-1] // the kernel reads in place, unchecked
		macroKernelDirect(kern, full, ncb, kcb, a.Data[base:], lda, bPack, c, ldc, load, tmp)
	}
	if full < mcb {
		packA(a, ic+full, mcb-full, pc, kcb, kern.mr, aPack)
		macroKernel(kern, mcb-full, ncb, kcb, aPack, bPack, c[full*ldc:], ldc, load, tmp)
	}
}

// macroKernelDirect is macroKernel for whole row panels of A read in place
// (row stride lda); partial column panels go through a buffer.
func macroKernelDirect(kern microKernel, mcb, ncb, kcb int, a []float32, lda int, bPack, c []float32, ldc int, load bool, tmp *tileBuf) {
	mr, nr := kern.mr, kern.nr
	for jr := 0; jr < ncb; jr += nr {
		cols := min(nr, ncb-jr)
		bp := bPack[jr*kcb:]
		for ir := 0; ir < mcb; ir += mr {
			if cols == nr {
				kern.direct(kcb, &a[ir*lda], lda, &bp[0], &c[ir*ldc+jr], ldc, load)
				continue
			}
			kern.direct(kcb, &a[ir*lda], lda, &bp[0], &tmp[0], nr, false)
			addTile(c[ir*ldc+jr:], ldc, tmp[:], nr, mr, cols, load)
		}
	}
}

// macroKernel runs the micro-kernel over an mcb x ncb block of C. Edge tiles
// go through a small buffer so the kernel always writes whole tiles.
func macroKernel(kern microKernel, mcb, ncb, kcb int, aPack, bPack, c []float32, ldc int, load bool, tmp *tileBuf) {
	mr, nr := kern.mr, kern.nr
	for jr := 0; jr < ncb; jr += nr {
		cols := min(nr, ncb-jr)
		bp := bPack[jr*kcb:]
		for ir := 0; ir < mcb; ir += mr {
			rows := min(mr, mcb-ir)
			ap := aPack[ir*kcb:]
			if rows == mr && cols == nr {
				kern.fn(kcb, &ap[0], &bp[0], &c[ir*ldc+jr], ldc, load)
				continue
			}
			kern.fn(kcb, &ap[0], &bp[0], &tmp[0], nr, false)
			addTile(c[ir*ldc+jr:], ldc, tmp[:], nr, rows, cols, load)
		}
	}
}

// addTile writes (or with load, adds) the rows x cols corner of a buffered
// tile of row stride nr into C.
func addTile(c []float32, ldc int, tmp []float32, nr, rows, cols int, load bool) {
	for i := range rows {
		row := c[i*ldc : i*ldc+cols]
		t := tmp[i*nr : i*nr+cols]
		if load {
			for j := range row {
				row[j] += t[j]
			}
		} else {
			copy(row, t)
		}
	}
}
