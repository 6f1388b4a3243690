package qgemm

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/tensor"
)

// randCodes returns n codes in [-qmax, qmax], half of them the extremes.
func randCodes(r *rand.Rand, n int, qmax int8) []int8 {
	c := make([]int8, n)
	for i := range c {
		if r.IntN(2) == 0 {
			c[i] = []int8{-qmax, qmax}[r.IntN(2)]
		} else {
			c[i] = int8(r.IntN(2*int(qmax)+1)) - qmax
		}
	}
	return c
}

// randScales returns n scales in [0.05, 1] (scales are >= 0).
func randScales(r *rand.Rand, n int) []float32 {
	s := check.Float32s(check.Uniform(r, n))
	for i, v := range s {
		s[i] = max(v, -v)
	}
	return s
}

// Every pair of packed bytes spreads into its four codes' nibbles.
func TestNibbles(t *testing.T) {
	for b0 := range 256 {
		for b1 := range 256 {
			v := nibbles(byte(b0), byte(b1))
			row := []byte{byte(b0), byte(b1)}
			for j := range 4 {
				got := int8(byte(v>>(8*j))<<4) >> 4
				if got != tensor.Int4At(row, j) {
					require.Failf(t, "nibbles", "bytes %#x %#x code %d: got %d, want %d", b0, b1, j, got, tensor.Int4At(row, j))
				}
			}
		}
	}
}

// The run packers put code c at d[c/4*stride + c%4], whatever the run's
// start (odd starts take the code-by-code path) and length (tails of 0-3),
// touch nothing else and return the right sums.
func TestPackRuns(t *testing.T) {
	r := check.NewRand(t)
	const stride, sentinel = 12, 0xa5
	for p := range 6 {
		for n := range 14 {
			codes4 := randCodes(r, p+n, 7)
			row4 := tensor.PackInt4(codes4, p+n)
			codes8 := randCodes(r, n, 127)
			steps := (n + 3) / 4
			for _, kind := range []string{"int4", "int4+bias", "int8+bias"} {
				d := make([]byte, steps*stride+4)
				for i := range d {
					d[i] = sentinel
				}
				want := map[int]byte{}
				var wantSum int64
				switch kind {
				case "int4":
					sum := packInt4(d, stride, row4, p, n)
					for c, v := range codes4[p:] {
						want[c/4*stride+c%4] = byte(v)
						wantSum += int64(v)
					}
					require.Equal(t, wantSum, sum, "p %d n %d", p, n)
				case "int4+bias":
					packInt4Biased(d, stride, row4, p, n)
					for c, v := range codes4[p:] {
						want[c/4*stride+c%4] = byte(int(v) + Bias)
					}
				case "int8+bias":
					packInt8(d, stride, codes8)
					for c, v := range codes8 {
						want[c/4*stride+c%4] = byte(int(v) + Bias)
					}
				}
				for i, got := range d {
					w, ok := want[i]
					if !ok {
						w = sentinel
					}
					require.Equal(t, w, got, "%s p %d n %d byte %d", kind, p, n, i)
				}
			}
		}
	}
}

// The panels hold what the kernels expect: codes in [group][step][row or
// column][4] order, activations biased, zero codes (Bias for activations)
// past a group's end and past the last row or column, the bias corrections
// and the scales. An odd group size puts 4-bit runs on odd nibbles.
func TestPackPanels(t *testing.T) {
	r := check.NewRand(t)
	for _, c := range []struct{ m, n, k, group int }{
		{5, 7, 23, 8}, {4, 11, 30, 7}, {1, 1, 3, 128}, {9, 6, 12, 1},
	} {
		kn := Kernel{Name: "layout", MR: 3, NR: 4}
		s := NewShape(c.k, c.group)
		is8 := make([]bool, s.Groups)
		for g := range is8 {
			is8[g] = g%3 == 1
		}
		ac := make([]int8, c.m*c.k)
		for i := range ac {
			ac[i] = randCodes(r, 1, map[bool]int8{false: 7, true: 127}[is8[i%c.k/c.group]])[0]
		}
		wc := randCodes(r, c.n*c.k, 7)
		a, err := quant.NewActivations(ac, randScales(r, c.m*s.Groups), is8, c.m, c.k, c.group)
		require.NoError(t, err)
		w, err := quant.NewWeights(wc, randScales(r, c.n*s.Groups), c.n, c.k, c.group)
		require.NoError(t, err)

		p := kn.NewProduct(s, c.m, c.n)
		for q := range p.MPanels() {
			p.PackActivations(q, a)
		}
		for q := range p.NPanels() {
			p.PackWeights(q, w)
		}
		gb := 4 * s.Steps
		for q := range p.MPanels() {
			for g := range s.Groups {
				lo, hi := quant.GroupBounds(c.k, c.group, g)
				for i := range kn.MR {
					row := q*kn.MR + i
					for e := range gb {
						want := byte(Bias)
						if row < c.m && lo+e < hi {
							want = byte(int(ac[row*c.k+lo+e]) + Bias)
						}
						got := p.a[q*p.aLen+g*gb*kn.MR+e/4*4*kn.MR+4*i+e%4]
						require.Equal(t, want, got, "%+v a panel %d group %d row %d code %d", c, q, g, i, e)
					}
					wantScale := float32(0)
					if row < c.m {
						wantScale = a.Scales[row*s.Groups+g]
					}
					require.Equal(t, wantScale, p.sa[(q*s.Groups+g)*kn.MR+i])
				}
			}
		}
		for q := range p.NPanels() {
			for g := range s.Groups {
				lo, hi := quant.GroupBounds(c.k, c.group, g)
				for j := range kn.NR {
					col := q*kn.NR + j
					sum := int32(0)
					for e := range gb {
						want := int8(0)
						if col < c.n && lo+e < hi {
							want = wc[col*c.k+lo+e]
						}
						sum += int32(want)
						got := p.b[q*p.bLen+g*gb*kn.NR+e/4*4*kn.NR+4*j+e%4]
						require.Equal(t, byte(want), got, "%+v b panel %d group %d col %d code %d", c, q, g, j, e)
					}
					wantScale := float32(0)
					if col < c.n {
						wantScale = w.Scales[col*s.Groups+g]
					}
					require.Equal(t, -Bias*sum, p.corr[(q*s.Groups+g)*kn.NR+j])
					require.Equal(t, wantScale, p.sw[(q*s.Groups+g)*kn.NR+j])
				}
			}
		}
	}
}

func TestNewShape(t *testing.T) {
	require.Equal(t, Shape{K: 300, Group: 128, Groups: 3, Steps: 32}, NewShape(300, 128))
	require.Equal(t, Shape{K: 9, Group: 1, Groups: 9, Steps: 1}, NewShape(9, 1))
	require.Equal(t, Shape{K: 10, Group: 128, Groups: 1, Steps: 3}, NewShape(10, 128)) // one short group
	require.Equal(t, Shape{K: 0, Group: 128, Groups: 0, Steps: 0}, NewShape(0, 128))
}
