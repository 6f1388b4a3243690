package gemm

// PackedB is a k x n right operand packed once into the micro-kernel's panel
// layout, for products that reuse it: a block of weights multiplied into
// chunk after chunk of rows is packed once instead of in every product.
type PackedB struct {
	k, n int
	kern microKernel
	blk  blocking
	data []float32
}

// PackB packs the k x n operand b for Workspace.MatMulPacked.
func PackB(k, n int, b Matrix) *PackedB {
	return packBAll(best, defaultBlocking(), k, n, b)
}

func packBAll(kern microKernel, blk blocking, k, n int, b Matrix) *PackedB {
	k, n = max(k, 0), max(n, 0)
	p := &PackedB{k: k, n: n, kern: kern, blk: blk, data: make([]float32, k*roundUp(n, kern.nr))}
	for pc := 0; pc < k; pc += blk.kc {
		kcb := min(blk.kc, k-pc)
		for jc := 0; jc < n; jc += blk.nc {
			packB(b, pc, kcb, jc, min(blk.nc, n-jc), kern.nr, p.block(pc, kcb, jc))
		}
	}
	return p
}

// block is the packed kcb x nc block at (pc, jc): the blocks of one kc step
// follow each other, each kcb rows by its padded width.
func (p *PackedB) block(pc, kcb, jc int) []float32 {
	return p.data[pc*roundUp(p.n, p.kern.nr)+kcb*jc:]
}

// Rows and Cols are the operand's shape.
func (p *PackedB) Rows() int { return p.k }
func (p *PackedB) Cols() int { return p.n }

// MatMulPacked computes C = A·B, or C += A·B when acc is set, for A m x
// b.Rows() and B packed by PackB, on the calling goroutine.
func (w *Workspace) MatMulPacked(m int, a Matrix, b *PackedB, c []float32, ldc int, acc bool) {
	if m <= 0 || b.n <= 0 {
		return
	}
	if b.k <= 0 {
		clearUnlessAcc(m, b.n, c, ldc, acc)
		return
	}
	_ = c[(m-1)*ldc+b.n-1] // the kernels write whole tiles of C unchecked
	matMulSerial(b.kern, b.blk, m, b.n, b.k, a, Matrix{}, b, c, ldc, acc, w)
}
