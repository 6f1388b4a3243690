//go:build !purego

package qgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/cpu"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/quant"
)

// The selection offers every kernel the CPU can run, fastest first.
func TestKernelsAvailable(t *testing.T) {
	var want []string
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VNNI {
		want = append(want, "avx512vnni-6x32")
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		want = append(want, "avx2-4x16")
	}
	var got []string
	for _, k := range Kernels() {
		got = append(got, k.Name)
	}
	require.Equal(t, want, got)
	best, ok := Best()
	require.Equal(t, len(want) > 0, ok)
	if ok {
		require.Equal(t, want[0], best.Name)
	}
}

type kernelCase struct {
	m, n, k, group int
	codes          string // how codes are drawn: see kernelOperands
}

// kernelOperands returns operands of case c and their unpacked codes. Every
// third group (from the second) is 8-bit. codes: "random" (half extremes),
// "max" (activations +qmax, weights +7: the largest sums), "min"
// (activations +qmax, weights -7: the most negative) or "mixed" (activations
// -qmax, weights +-7 at random).
func kernelOperands(t testing.TB, r *rand.Rand, c kernelCase) (*quant.Activations, *quant.Weights, []int8, []int8) {
	groups := quant.Groups(c.k, c.group)
	is8 := make([]bool, groups)
	for g := range is8 {
		is8[g] = g%3 == 1
	}
	ac := make([]int8, c.m*c.k)
	for i := range ac {
		qmax := int8(7)
		if is8[i%c.k/c.group] {
			qmax = 127
		}
		switch c.codes {
		case "random":
			ac[i] = randCodes(r, 1, qmax)[0]
		case "max", "min":
			ac[i] = qmax
		case "mixed":
			ac[i] = -qmax
		}
	}
	wc := make([]int8, c.n*c.k)
	for i := range wc {
		switch c.codes {
		case "random":
			wc[i] = randCodes(r, 1, 7)[0]
		case "max":
			wc[i] = 7
		case "min":
			wc[i] = -7
		case "mixed":
			wc[i] = []int8{-7, 7}[r.IntN(2)]
		}
	}
	a, err := quant.NewActivations(ac, randScales(r, c.m*groups), is8, c.m, c.k, c.group)
	require.NoError(t, err)
	w, err := quant.NewWeights(wc, randScales(r, c.n*groups), c.n, c.k, c.group)
	require.NoError(t, err)
	return a, w, ac, wc
}

// groupSums is the plain integer loop: I[m][n][g] in int64.
func groupSums(c kernelCase, ac, wc []int8) []int64 {
	groups := quant.Groups(c.k, c.group)
	sums := make([]int64, c.m*c.n*groups)
	for i := range c.m {
		for j := range c.n {
			for g := range groups {
				lo, hi := quant.GroupBounds(c.k, c.group, g)
				var s int64
				for l := lo; l < hi; l++ {
					s += int64(ac[i*c.k+l]) * int64(wc[j*c.k+l])
				}
				sums[(i*c.n+j)*groups+g] = s
			}
		}
	}
	return sums
}

// sentinel marks the padding columns of y (row stride n+1), which no tile
// may touch.
const sentinel = float32(-12345)

// multiply packs a and w for kn and runs every tile into y (m x n, row
// stride n+1), poisoned with NaN beforehand.
func multiply(kn Kernel, a *quant.Activations, w *quant.Weights, m, n int) []float32 {
	p := kn.NewProduct(NewShape(a.K, a.Group), m, n)
	for q := range p.MPanels() {
		p.PackActivations(q, a)
	}
	for q := range p.NPanels() {
		p.PackWeights(q, w)
	}
	ldy := n + 1
	y := make([]float32, m*ldy)
	for i := range y {
		y[i] = float32(math.NaN())
		if i%ldy == n {
			y[i] = sentinel
		}
	}
	for qm := range p.MPanels() {
		for qn := range p.NPanels() {
			p.Tile(qm, qn, y, ldy)
		}
	}
	return y
}

// Each kernel's group sums equal the plain integer loop's exactly, and the
// scaled sum over groups agrees with its float64 evaluation to 1e-6, on
// shapes with partial tiles both ways, short last groups, group lengths
// that are not multiples of four (odd ones too), groups of one code and
// groups longer than K, with random and extreme codes (int4 +-7, int8
// +-127). A group sum is read out exactly by scaling every other group by
// 0 and it by 1 (|I| < 2^24, so float32 holds it).
func TestKernelGroupSums(t *testing.T) {
	r := check.NewRand(t)
	shapes := []kernelCase{
		{1, 1, 1, 128, ""},
		{7, 33, 300, 128, ""}, // one row and one column past a tile, last group of 44
		{13, 35, 130, 64, ""}, // last group of 2
		{12, 64, 256, 128, ""},
		{5, 17, 9, 1, ""},  // every code a group
		{9, 40, 50, 7, ""}, // odd groups: int4 runs on odd nibbles
		{6, 20, 100, 256, ""},
		{4, 16, 14, 6, ""},
	}
	for _, kn := range Kernels() {
		for _, shape := range shapes {
			for _, codes := range []string{"random", "max", "min", "mixed"} {
				c := shape
				c.codes = codes
				t.Run(fmt.Sprintf("%s/m%d_n%d_k%d_g%d_%s", kn.Name, c.m, c.n, c.k, c.group, codes), func(t *testing.T) {
					kernelCaseCheck(t, r, kn, c)
				})
			}
		}
	}
}

func kernelCaseCheck(t *testing.T, r *rand.Rand, kn Kernel, c kernelCase) {
	a, w, ac, wc := kernelOperands(t, r, c)
	groups := quant.Groups(c.k, c.group)
	sums := groupSums(c, ac, wc)
	ldy := c.n + 1

	ones := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	exact := *a
	exact.Scales = ones(c.m * groups)
	for g := range groups {
		oneHot := *w
		oneHot.Scales = make([]float32, c.n*groups)
		for j := range c.n {
			oneHot.Scales[j*groups+g] = 1
		}
		y := multiply(kn, &exact, &oneHot, c.m, c.n)
		for i := range c.m {
			for j := range c.n {
				want := sums[(i*c.n+j)*groups+g]
				require.Less(t, math.Abs(float64(want)), float64(1<<24))
				require.Equal(t, float32(want), y[i*ldy+j], "I[%d, %d, group %d]", i, j, g)
			}
			require.Equal(t, sentinel, y[i*ldy+c.n], "row %d padding", i)
		}
	}

	y := multiply(kn, a, w, c.m, c.n)
	got := make([]float64, c.m*c.n)
	want := make([]float64, c.m*c.n)
	for i := range c.m {
		for j := range c.n {
			got[i*c.n+j] = float64(y[i*ldy+j])
			for g := range groups {
				want[i*c.n+j] += float64(a.Scales[i*groups+g]) * float64(w.Scales[j*groups+g]) * float64(sums[(i*c.n+j)*groups+g])
			}
		}
		require.Equal(t, sentinel, y[i*ldy+c.n], "row %d padding", i)
	}
	require.Less(t, check.RelFrobenius(got, want), 1e-6)
}

// The kernels' int32 sums wrap rather than saturate, so that a bias
// correction that wrapped (for the longest groups) still gives the exact
// sum: here the correction is planted next to the int32 limits and the
// products carry the sums across them.
func TestKernelSumsWrap(t *testing.T) {
	r := check.NewRand(t)
	for _, kn := range Kernels() {
		// All-extreme codes: I = +-7*7*64 = +-3136 carries past a limit 1000 away.
		for _, cs := range []struct {
			codes string
			limit int32
		}{{"max", math.MaxInt32 - 1000}, {"min", math.MinInt32 + 1000}} {
			c := kernelCase{m: kn.MR, n: kn.NR, k: 64, group: 64, codes: cs.codes}
			a, w, ac, wc := kernelOperands(t, r, c)
			sums := groupSums(c, ac, wc)
			p := kn.NewProduct(NewShape(c.k, c.group), c.m, c.n)
			p.PackActivations(0, a)
			p.PackWeights(0, w)
			for i := range p.sa {
				p.sa[i] = 1
			}
			for j := range p.sw {
				p.sw[j] = 1
			}
			// The biased products add Bias*sum(w) + I; a correction of
			// limit - Bias*sum(w) makes the sum limit + I, wrapped.
			for j := range c.n {
				p.corr[j] += cs.limit
			}
			y := make([]float32, c.m*c.n)
			p.Tile(0, 0, y, c.n)
			for i := range c.m {
				for j := range c.n {
					want := cs.limit + int32(sums[i*c.n+j]) // wraps in Go as in the kernel
					require.NotEqual(t, cs.limit < 0, want < 0, "the sum crosses the limit")
					require.Equal(t, float32(want), y[i*c.n+j], "%s %s [%d, %d]", kn.Name, cs.codes, i, j)
				}
			}
		}
	}
}

// BenchmarkKernels times one tile over K = 2048 (group 128) on one core,
// panels in cache: the kernels' peak, in integer ops (2*MR*NR*K) per second.
func BenchmarkKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, kn := range Kernels() {
		b.Run(kn.Name, func(b *testing.B) {
			const k, group = 2048, 128
			a, w, _, _ := kernelOperands(b, r, kernelCase{m: kn.MR, n: kn.NR, k: k, group: group, codes: "random"})
			p := kn.NewProduct(NewShape(k, group), kn.MR, kn.NR)
			p.PackActivations(0, a)
			p.PackWeights(0, w)
			y := make([]float32, kn.MR*kn.NR)
			for b.Loop() {
				p.Tile(0, 0, y, kn.NR)
			}
			b.ReportMetric(2*float64(kn.MR*kn.NR*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gop/s")
		})
	}
}
