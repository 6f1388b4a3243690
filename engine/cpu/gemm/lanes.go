package gemm

import (
	"fmt"
	"unsafe"
)

// Lanes is an operand of LaneMatMul: a batch of matrices stored interleaved,
// element (i, j) of matrix t at Data[i*RowStride+j*ColStride+t]. The batch
// index is the fastest-varying one, the "compact" layout of Intel MKL's
// compact BLAS, so one SIMD vector holds the same element of consecutive
// matrices.
type Lanes struct {
	Data                 []float32
	RowStride, ColStride int
}

func (l Lanes) index(i, j, t int) int { return i*l.RowStride + j*l.ColStride + t }

// laneKernelFunc computes an mr x nr tile of width-lane vectors of C (+)= A·B
// over k steps, operands in place with strides in floats; mode says how it
// writes C (laneOverwrite, laneAdd or laneStream).
type laneKernelFunc func(k int, a *float32, ars, acs int, b *float32, brs, bcs int, c *float32, crs, ccs int, mode int)

// How a lane kernel writes its tile of C.
const (
	laneOverwrite = 0
	laneAdd       = 1
	laneStream    = 2 // overwrite with non-temporal stores; C's vectors aligned
)

// laneKernel is one tile shape of a lane-batched product and its code;
// fence (nil if not needed) orders its streaming stores.
type laneKernel struct {
	name          string
	mr, nr, width int
	fn            laneKernelFunc
	fence         func()
}

// LaneMatMul computes C_t = A_t·B_t, or C_t += A_t·B_t when acc is set, for
// every t < lanes, with A_t m x k, B_t k x n and C_t m x n, on the calling
// goroutine. Each step is a vector FMA over consecutive matrices, with no
// packing and no broadcast, so a batch of many small products whose batch
// index is innermost in memory (Monarch's second block-diagonal factor, read
// through its permutation) runs at the speed of one large product. C must
// not overlap A or B. It panics if an operand is too short for its shape.
func LaneMatMul(m, n, k, lanes int, a, b, c Lanes, acc bool) {
	mode := laneOverwrite
	if acc {
		mode = laneAdd
	}
	laneMatMul(bestLane, m, n, k, lanes, a, b, c, mode)
}

// LaneMatMulStream is LaneMatMul overwriting a C that is not read again
// soon, such as a layer's output: where C's vectors are aligned, they go to
// memory with non-temporal stores, neither reading C's lines first nor
// evicting the operands from the caches to hold them.
func LaneMatMulStream(m, n, k, lanes int, a, b, c Lanes) {
	laneMatMul(bestLane, m, n, k, lanes, a, b, c, laneStream)
}

func laneMatMul(kern laneKernel, m, n, k, lanes int, a, b, c Lanes, mode int) {
	acc := mode == laneAdd
	if m <= 0 || n <= 0 || lanes <= 0 {
		return
	}
	// The kernels run unchecked: check each operand's extent once.
	c.mustHold("c", m, n, lanes)
	if k <= 0 {
		laneRef(0, m, 0, n, 0, lanes, 0, a, b, c, acc)
		return
	}
	a.mustHold("a", m, k, lanes)
	b.mustHold("b", k, n, lanes)
	w, mr, nr := kern.width, kern.mr, kern.nr
	full, mt, nt := lanes/w*w, m/mr*mr, n/nr*nr
	if mode == laneStream {
		if kern.fence == nil || uintptr(unsafe.Pointer(&c.Data[0]))%uintptr(4*w) != 0 || c.RowStride%w != 0 || c.ColStride%w != 0 {
			mode = laneOverwrite
		} else {
			defer kern.fence()
		}
	}
	for t := 0; t < full; t += w {
		for j := 0; j < nt; j += nr {
			for i := 0; i < mt; i += mr {
				kern.fn(k, &a.Data[a.index(i, 0, t)], a.RowStride, a.ColStride,
					&b.Data[b.index(0, j, t)], b.RowStride, b.ColStride,
					&c.Data[c.index(i, j, t)], c.RowStride, c.ColStride, mode)
			}
		}
	}
	// Edges: the rows and columns past whole tiles, and the lanes past
	// whole vectors.
	laneRef(mt, m, 0, n, 0, full, k, a, b, c, acc)
	laneRef(0, mt, nt, n, 0, full, k, a, b, c, acc)
	laneRef(0, m, 0, n, full, lanes, k, a, b, c, acc)
}

func (l Lanes) mustHold(name string, rows, cols, lanes int) {
	if l.RowStride < 0 || l.ColStride < 0 || l.index(rows-1, cols-1, lanes-1) >= len(l.Data) {
		panic(fmt.Sprintf("gemm: lane operand %s of %d floats too short for %dx%d matrices of %d lanes at strides %d, %d",
			name, len(l.Data), rows, cols, lanes, l.RowStride, l.ColStride))
	}
}

// laneRef computes rows [i0, i1), columns [j0, j1) and lanes [t0, t1) of C
// with plain loops, summing over k in the kernels' order.
func laneRef(i0, i1, j0, j1, t0, t1, k int, a, b, c Lanes, acc bool) {
	for i := i0; i < i1; i++ {
		for j := j0; j < j1; j++ {
			for t := t0; t < t1; t++ {
				var s float32
				for p := range k {
					s += a.Data[a.index(i, p, t)] * b.Data[b.index(p, j, t)]
				}
				if acc {
					s += c.Data[c.index(i, j, t)]
				}
				c.Data[c.index(i, j, t)] = s
			}
		}
	}
}

// genericLaneKernel is the portable lane kernel: the reference the SIMD
// lane kernels are tested against, and the kernel on other architectures.
var genericLaneKernel = laneKernel{name: "generic2x2x8", mr: 2, nr: 2, width: 8, fn: laneKernelGeneric}

func laneKernelGeneric(k int, a *float32, ars, acs int, b *float32, brs, bcs int, c *float32, crs, ccs int, mode int) {
	const mr, nr, w = 2, 2, 8
	as := unsafeSlice(a, (mr-1)*ars+(k-1)*acs+w)
	bs := unsafeSlice(b, (k-1)*brs+(nr-1)*bcs+w)
	var acc [mr][nr][w]float32
	for p := range k {
		for i := range mr {
			av := as[i*ars+p*acs:][:w]
			for j := range nr {
				bv := bs[p*brs+j*bcs:][:w]
				r := &acc[i][j]
				for t := range w {
					r[t] += av[t] * bv[t]
				}
			}
		}
	}
	cs := unsafeSlice(c, (mr-1)*crs+(nr-1)*ccs+w)
	for i := range mr {
		for j := range nr {
			cv := cs[i*crs+j*ccs:][:w]
			for t := range w {
				if mode == laneAdd {
					cv[t] += acc[i][j][t]
				} else {
					cv[t] = acc[i][j][t]
				}
			}
		}
	}
}
