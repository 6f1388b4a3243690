package backend

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/ref"
)

// TestW4A4Layout pins the steps of a layout worked by hand: K = 150 in
// groups of 64 (64, 64, 22 columns), the middle one 8-bit: one int4 step,
// two int8 steps, one int4 step, each group's last step flagged.
func TestW4A4Layout(t *testing.T) {
	a := &quant.Activations{M: 1, K: 150, Group: 64, Is8: []bool{false, true, false}}
	l := newW4A4Layout(a)
	assert.Equal(t, 4, l.steps)
	assert.Equal(t, []int{0, 1, 3}, l.first)
	assert.Equal(t, []int32{0<<2 | 2, 1<<2 | 1, 1<<2 | 1 | 2, 2<<2 | 2}, l.info)
	assert.Equal(t, 4*32, l.rowBytes())

	// Groups of one column: one step each, whatever the width.
	a = &quant.Activations{M: 1, K: 3, Group: 1, Is8: []bool{true, false, false}}
	l = newW4A4Layout(a)
	assert.Equal(t, []int32{0<<2 | 3, 1<<2 | 2, 2<<2 | 2}, l.info)
}

// TestW4A4Pack decodes the packed operands step by step, as the kernel's
// mma instructions read them (int4 nibbles low first, int8 bytes), and
// checks that the group sums they give are the reference's exact ones and
// that every padding byte is zero: the layout loses, moves or adds nothing,
// at odd K, a short last group, groups of one column and int8 fractions 0,
// 0.25 and 1.
func TestW4A4Pack(t *testing.T) {
	r := check.NewRand(t)
	for _, c := range []struct {
		m, n, k, group int
		frac           float64
	}{{3, 5, 150, 64, 0.25}, {2, 3, 7, 128, 1}, {4, 2, 9, 1, 0.25}, {5, 4, 301, 32, 0}, {1, 7, 200, 100, 1}} {
		x := check.Float32s(check.Uniform(r, c.m*c.k))
		a, err := quant.QuantizeActivations(x, c.m, c.k, c.group, c.frac)
		require.NoError(t, err)
		w, err := quant.QuantizeWeights(check.Float32s(check.Uniform(r, c.n*c.k)), c.n, c.k, c.group)
		require.NoError(t, err)
		l := newW4A4Layout(a)
		pa, pw := l.packActivations(a), l.packWeights(w, a.Is8)
		rb := l.rowBytes()
		require.Len(t, pa, c.m*rb)
		require.Len(t, pw, c.n*rb)

		groups := len(l.first)
		// code returns the i-th operand of a step (int4: nibble i, int8: byte i).
		code := func(step []byte, i int, eight bool) int64 {
			if eight {
				return int64(int8(step[i]))
			}
			return int64(int8(step[i/2]<<(4*(1-i&1))) >> 4)
		}
		got := make([]int64, c.m*c.n*groups)
		for s, inf := range l.info {
			g, eight := int(inf>>2), inf&1 != 0
			per := w4a4Codes4
			if eight {
				per = w4a4Codes8
			}
			lo, hi := quant.GroupBounds(c.k, c.group, g)
			used := min(per, hi-lo-(s-l.first[g])*per) // codes of the group in this step
			for m := range c.m {
				sa := pa[m*rb+s*32 : m*rb+s*32+32]
				for i := used; i < per; i++ {
					require.Zero(t, code(sa, i, eight), "padding of activation row %d step %d", m, s)
				}
				for n := range c.n {
					sw := pw[n*rb+s*32 : n*rb+s*32+32]
					for i := range per {
						got[(m*c.n+n)*groups+g] += code(sa, i, eight) * code(sw, i, eight)
					}
				}
			}
			for n := range c.n {
				sw := pw[n*rb+s*32 : n*rb+s*32+32]
				for i := used; i < per; i++ {
					require.Zero(t, code(sw, i, eight), "padding of weight row %d step %d", n, s)
				}
			}
		}
		require.Equal(t, ref.W4A4GroupSums(a, w), got)
	}
}
