// Package gemm is the CPU backend's dense float32 matrix product: packed,
// cache-blocked loops (after Goto and van de Geijn, and BLIS) around a
// register-blocked micro-kernel. On amd64 the micro-kernels are Go assembly
// generated with avo (AVX-512 12x32 and AVX2 6x16 tiles), chosen at run time
// from the CPU's features; the portable Go kernel serves other architectures
// and the `purego` build tag, and the same tests run against every kernel.
package gemm

import (
	"sync"
)

// Blocking sizes: kc*nr floats of B stay in L1 across a micro-kernel call,
// an mc x kc block of A in L2, and a kc x nc block of B in L3.
const (
	kcBlock = 384
	mcBlock = 192
	ncBlock = 3072
)

// kernelFunc computes an mr x nr tile of C from packed panels: C (+)= A·B.
type kernelFunc func(kc int, a, b, c *float32, ldc int, load bool)

// microKernel is one register-blocked tile shape and its code.
type microKernel struct {
	name   string
	mr, nr int
	fn     kernelFunc
}

// Matrix is a row-major operand: element (i, j) is Data[i*Stride+j], or
// Data[j*Stride+i] when Trans is set (the operand is the transpose of what is stored).
type Matrix struct {
	Data   []float32
	Stride int
	Trans  bool
}

func (m Matrix) at(i, j int) float32 {
	if m.Trans {
		return m.Data[j*m.Stride+i]
	}
	return m.Data[i*m.Stride+j]
}

// MatMul computes C = A·B, or C += A·B when acc is set, for A m x k, B k x n
// and C m x n (row-major, row stride ldc), with up to threads goroutines.
// Operands must be large enough for their shapes and strides.
func MatMul(m, n, k int, a, b Matrix, c []float32, ldc int, acc bool, threads int) {
	matMul(best, m, n, k, a, b, c, ldc, acc, threads)
}

func matMul(kern microKernel, m, n, k int, a, b Matrix, c []float32, ldc int, acc bool, threads int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		if !acc {
			for i := range m {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	threads = max(threads, 1)
	mr, nr := kern.mr, kern.nr
	kcMax := min(k, kcBlock)
	ncMax := min(roundUp(n, nr), ncBlock)
	bPack := make([]float32, kcMax*ncMax)
	aPacks := make([][]float32, threads)
	for pc := 0; pc < k; pc += kcBlock {
		kcb := min(kcBlock, k-pc)
		for jc := 0; jc < n; jc += ncBlock {
			ncb := min(ncBlock, n-jc)
			packB(b, pc, kcb, jc, ncb, nr, bPack)
			load := acc || pc > 0
			blocks := (m + mcBlock - 1) / mcBlock
			// Split the rows of C: each worker packs its own blocks of A.
			work := func(w, lo, hi int) {
				if aPacks[w] == nil {
					aPacks[w] = make([]float32, roundUp(min(mcBlock, m), mr)*kcMax)
				}
				for blk := lo; blk < hi; blk++ {
					ic := blk * mcBlock
					mcb := min(mcBlock, m-ic)
					packA(a, ic, mcb, pc, kcb, mr, aPacks[w])
					macroKernel(kern, mcb, ncb, kcb, aPacks[w], bPack, c[ic*ldc+jc:], ldc, load)
				}
			}
			parts := min(threads, blocks)
			if parts <= 1 {
				work(0, 0, blocks)
				continue
			}
			var wg sync.WaitGroup
			for p := range parts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					work(p, p*blocks/parts, (p+1)*blocks/parts)
				}()
			}
			wg.Wait()
		}
	}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// packA copies A[ic:ic+mcb, pc:pc+kcb] into panels of mr rows, k-major within
// a panel (mr values per k), zero-padding the last panel.
func packA(a Matrix, ic, mcb, pc, kcb, mr int, dst []float32) {
	o := 0
	for ir := 0; ir < mcb; ir += mr {
		rows := min(mr, mcb-ir)
		if !a.Trans && rows == mr {
			for p := range kcb {
				base := (ic+ir)*a.Stride + pc + p
				for i := range mr {
					dst[o+i] = a.Data[base+i*a.Stride]
				}
				o += mr
			}
			continue
		}
		for p := range kcb {
			for i := range mr {
				if i < rows {
					dst[o+i] = a.at(ic+ir+i, pc+p)
				} else {
					dst[o+i] = 0
				}
			}
			o += mr
		}
	}
}

// packB copies B[pc:pc+kcb, jc:jc+ncb] into panels of nr columns, k-major
// within a panel (nr values per k), zero-padding the last panel.
func packB(b Matrix, pc, kcb, jc, ncb, nr int, dst []float32) {
	o := 0
	for jr := 0; jr < ncb; jr += nr {
		cols := min(nr, ncb-jr)
		for p := range kcb {
			d := dst[o : o+nr]
			if !b.Trans && cols == nr {
				copy(d, b.Data[(pc+p)*b.Stride+jc+jr:])
			} else {
				for j := range nr {
					if j < cols {
						d[j] = b.at(pc+p, jc+jr+j)
					} else {
						d[j] = 0
					}
				}
			}
			o += nr
		}
	}
}

// macroKernel runs the micro-kernel over an mcb x ncb block of C. Edge tiles
// go through a small buffer so the kernel always writes whole tiles.
func macroKernel(kern microKernel, mcb, ncb, kcb int, aPack, bPack, c []float32, ldc int, load bool) {
	mr, nr := kern.mr, kern.nr
	var tmp [16 * 64]float32
	for jr := 0; jr < ncb; jr += nr {
		cols := min(nr, ncb-jr)
		bp := bPack[jr/nr*nr*kcb:]
		for ir := 0; ir < mcb; ir += mr {
			rows := min(mr, mcb-ir)
			ap := aPack[ir/mr*mr*kcb:]
			if rows == mr && cols == nr {
				kern.fn(kcb, &ap[0], &bp[0], &c[ir*ldc+jr], ldc, load)
				continue
			}
			kern.fn(kcb, &ap[0], &bp[0], &tmp[0], nr, false)
			for i := range rows {
				row := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+cols]
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
	}
}
