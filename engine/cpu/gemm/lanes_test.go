package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/stretchr/testify/require"
)

// randLanes stores rows x cols matrices of `lanes` lanes, either row-major
// (lanes innermost, then columns) or column-major, with padding in between.
func randLanes(r *rand.Rand, rows, cols, lanes int, colMajor bool) Lanes {
	l := Lanes{RowStride: cols*(lanes+3) + 1, ColStride: lanes + 3}
	if colMajor {
		l = Lanes{RowStride: lanes + 2, ColStride: rows*(lanes+2) + 5}
	}
	l.Data = check.Float32s(check.Uniform(r, l.index(rows-1, cols-1, lanes-1)+1))
	return l
}

// alignedLanes is randLanes for a C whose vectors are aligned to 64 bytes,
// as streaming stores need.
func alignedLanes(r *rand.Rand, rows, cols, lanes int) Lanes {
	l := Lanes{ColStride: (lanes + 3 + 15) / 16 * 16}
	l.RowStride = cols*l.ColStride + 16
	n := l.index(rows-1, cols-1, lanes-1) + 1
	buf := check.Float32s(check.Uniform(r, n+16))
	off := int((64 - uintptr(unsafe.Pointer(&buf[0]))%64) % 64 / 4)
	l.Data = buf[off : off+n]
	return l
}

// Every lane kernel against float64 loops, lane by lane: shapes around the
// tiles (4 rows, 4 or 2 columns) and the vector widths (16, 8), row- and
// column-major operands, overwrite, accumulate and stream (into an aligned
// C, where the streaming stores run); C's padding stays untouched.
func TestLaneMatMulEveryKernel(t *testing.T) {
	r := check.NewRand(t)
	shapes := [][4]int{ // m, n, k, lanes
		{1, 1, 1, 1}, {4, 4, 3, 16}, {5, 6, 7, 17}, {9, 3, 2, 40}, {8, 8, 1, 8}, {3, 9, 5, 33},
	}
	for _, kern := range laneKernels {
		for si, sh := range shapes {
			m, n, k, lanes := sh[0], sh[1], sh[2], sh[3]
			for v := range 4 {
				aCol, bCol, mode := v&1 == 1, v&2 == 2, (v+si)%3
				acc := mode == laneAdd
				t.Run(fmt.Sprintf("%s/%dx%dx%d/lanes=%d/acol=%v,bcol=%v,mode=%d", kern.name, m, n, k, lanes, aCol, bCol, mode), func(t *testing.T) {
					a, b := randLanes(r, m, k, lanes, aCol), randLanes(r, k, n, lanes, bCol)
					c := randLanes(r, m, n, lanes, si%2 == 1)
					if mode == laneStream {
						c = alignedLanes(r, m, n, lanes)
					}
					want := make([]float64, len(c.Data))
					for i := range c.Data {
						if !acc {
							c.Data[i] = float32(math.NaN())
						}
						want[i] = float64(c.Data[i])
					}
					before := append([]float32(nil), c.Data...)
					laneMatMul(kern, m, n, k, lanes, a, b, c, mode)
					var got, exp []float64
					inC := make([]bool, len(c.Data))
					for i := range m {
						for j := range n {
							for ln := range lanes {
								s := 0.0
								for p := range k {
									s += float64(a.Data[a.index(i, p, ln)]) * float64(b.Data[b.index(p, j, ln)])
								}
								if acc {
									s += want[c.index(i, j, ln)]
								}
								got = append(got, float64(c.Data[c.index(i, j, ln)]))
								exp = append(exp, s)
								inC[c.index(i, j, ln)] = true
							}
						}
					}
					require.Less(t, check.RelFrobenius(got, exp), 1e-5)
					for i, in := range inC {
						if !in {
							require.Equal(t, math.Float32bits(before[i]), math.Float32bits(c.Data[i]), "wrote padding at %d", i)
						}
					}
				})
			}
		}
	}
}

func TestLaneMatMulZeroKAndShortOperands(t *testing.T) {
	c := Lanes{Data: []float32{1, 2, 3, 4}, RowStride: 2, ColStride: 1}
	LaneMatMul(2, 1, 0, 2, Lanes{}, Lanes{}, c, true)
	require.Equal(t, []float32{1, 2, 3, 4}, c.Data)
	LaneMatMul(2, 1, 0, 2, Lanes{}, Lanes{}, c, false)
	require.Equal(t, []float32{0, 0, 0, 0}, c.Data)
	c.Data[3] = 5
	LaneMatMulStream(2, 1, 0, 2, Lanes{}, Lanes{}, c)
	require.Equal(t, []float32{0, 0, 0, 0}, c.Data)
	a := Lanes{Data: make([]float32, 5), RowStride: 4, ColStride: 2} // needs 6
	require.Panics(t, func() { LaneMatMul(2, 1, 1, 2, a, a, c, false) })
}

// BenchmarkLaneKernel times one lane kernel on operands that stay in L1
// (mean and best batch, as BenchmarkKernel).
func BenchmarkLaneKernel(b *testing.B) {
	for _, kern := range laneKernels {
		b.Run(kern.name, func(b *testing.B) {
			const k = 64
			w := kern.width
			a := make([]float32, kern.mr*k*w)
			bb := make([]float32, k*kern.nr*w)
			c := make([]float32, kern.mr*kern.nr*w)
			for i := range a {
				a[i] = 1e-3
			}
			for i := range bb {
				bb[i] = 1e-3
			}
			benchKernel(b, 2*float64(kern.mr*kern.nr*k*w), func() {
				kern.fn(k, &a[0], k*w, w, &bb[0], kern.nr*w, w, &c[0], kern.nr*w, w, laneAdd)
			})
		})
	}
}
