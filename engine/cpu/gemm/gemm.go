// Package gemm is the CPU backend's dense float32 matrix product: packed,
// cache-blocked loops (after Goto and van de Geijn, and BLIS) around a
// register-blocked micro-kernel, with a right operand packed once for
// reuse (PackB) and, for products with few columns, a row-major left operand
// read in place rather than packed (BLIS's "sup" trade). LaneMatMul runs a
// batch of small products stored interleaved, one per SIMD lane. On amd64
// the micro-kernels are Go assembly generated with avo (AVX-512 12x32 and
// AVX2 6x16 tiles; 4x4 and 4x2 tiles of lane vectors), chosen at run time
// from the CPU's features; the portable Go kernels serve other architectures
// and the `purego` build tag, and the same tests run against every kernel.
package gemm

// Matrix is a strided operand. The stored matrix has element (i, j) at
// Data[i*Stride+j*ColStride] (ColStride 0 means 1: contiguous rows); the
// operand is that matrix, or its transpose when Trans is set. Any pair of
// strides works, as in BLIS's general-stride matrices, so a product can read
// a permuted or interleaved view (one column of every L) without a copy.
type Matrix struct {
	Data      []float32
	Stride    int
	Trans     bool
	ColStride int
}

// strides returns the distances between consecutive rows and consecutive
// columns of the operand (after any transpose).
func (m Matrix) strides() (rs, cs int) {
	col := max(m.ColStride, 1)
	if m.Trans {
		return col, m.Stride
	}
	return m.Stride, col
}

func (m Matrix) at(i, j int) float32 {
	rs, cs := m.strides()
	return m.Data[i*rs+j*cs]
}

// MatMul computes C = A·B, or C += A·B when acc is set, for A m x k, B k x n
// and C m x n (row-major, row stride ldc), with up to threads goroutines.
// Operands must be large enough for their shapes and strides (it panics
// otherwise).
func MatMul(m, n, k int, a, b Matrix, c []float32, ldc int, acc bool, threads int) {
	matMul(best, defaultBlocking(), m, n, k, a, b, c, ldc, acc, threads, nil)
}

// Workspace holds the packing buffers of one goroutine, so that a caller
// running many small products (one per block, per chunk of rows) allocates
// them once. The zero value is ready to use; a Workspace is not safe for
// concurrent use.
type Workspace struct {
	a, b []float32
	tile tileBuf
}

// MatMul is the package's MatMul on the calling goroutine, reusing w's buffers.
func (w *Workspace) MatMul(m, n, k int, a, b Matrix, c []float32, ldc int, acc bool) {
	matMul(best, defaultBlocking(), m, n, k, a, b, c, ldc, acc, 1, w)
}

// buffers returns packing buffers of at least na and nb floats.
func (w *Workspace) buffers(na, nb int) (a, b []float32) {
	if len(w.a) < na {
		w.a = make([]float32, na)
	}
	if len(w.b) < nb {
		w.b = make([]float32, nb)
	}
	return w.a[:na], w.b[:nb]
}
