package backend

import (
	"github.com/matmix/matmix/engine/quant"
)

// The device layout of the W4A4 operands (kernels/w4a4.cu): K is cut into
// steps of w4a4StepBytes bytes per row, one mma depth each: 64 packed int4
// codes (mma.m16n8k64.s4) in a 4-bit group, 32 int8 codes
// (mma.m16n8k32.s8) in an 8-bit group. Every group starts on a step, its
// last step zero-padded, so that a group sum never mixes two groups.
const (
	w4a4StepBytes = 32
	w4a4Codes4    = 2 * w4a4StepBytes // int4 codes per step
	w4a4Codes8    = w4a4StepBytes     // int8 codes per step
)

// w4a4Layout places the groups of one activation format on steps.
type w4a4Layout struct {
	steps int
	first []int   // the first step of each group
	info  []int32 // per step: group<<2 | last<<1 | is8 (the kernel's info)
}

func newW4A4Layout(a *quant.Activations) w4a4Layout {
	groups := quant.Groups(a.K, a.Group)
	l := w4a4Layout{first: make([]int, groups)}
	for g, eight := range a.Is8 {
		lo, hi := quant.GroupBounds(a.K, a.Group, g)
		per := w4a4Codes4
		if eight {
			per = w4a4Codes8
		}
		n := (hi - lo + per - 1) / per
		l.first[g] = l.steps
		for s := range n {
			v := int32(g) << 2
			if eight {
				v |= 1
			}
			if s == n-1 {
				v |= 2
			}
			l.info = append(l.info, v)
		}
		l.steps += n
	}
	return l
}

// rowBytes is the length of one operand row on the device.
func (l *w4a4Layout) rowBytes() int { return l.steps * w4a4StepBytes }

// pack lays out rows rows of codes in the device format: row(r, buf)
// returns row r's K codes in column order; is8 gives each group's width.
// Codes of 8-bit groups are stored as int8, so the int4 weights of those
// groups come out widened to 8 bits; the padding is zero.
func (l *w4a4Layout) pack(rows, k, group int, is8 []bool, row func(r int, buf []int8) []int8) []byte {
	rb := l.rowBytes()
	out := make([]byte, rows*rb)
	buf := make([]int8, k)
	for r := range rows {
		codes := row(r, buf)
		dst := out[r*rb : (r+1)*rb]
		for g, eight := range is8 {
			lo, hi := quant.GroupBounds(k, group, g)
			d := dst[l.first[g]*w4a4StepBytes:]
			if eight {
				for j, c := range codes[lo:hi] {
					d[j] = byte(c)
				}
				continue
			}
			// Two's-complement nibbles, the even code in the low nibble
			// (the int4 operand order of mma .s4, as in quant's format).
			for j, c := range codes[lo:hi] {
				d[j/2] |= byte(c&0xf) << (4 * (j & 1))
			}
		}
	}
	return out
}

// packActivations lays out a's codes in the device format.
func (l *w4a4Layout) packActivations(a *quant.Activations) []byte {
	return l.pack(a.M, a.K, a.Group, a.Is8, a.Row)
}

// packWeights lays out w's codes in the device format of activations with
// the int8 groups is8: int4 in the 4-bit groups, widened to int8 in the
// 8-bit ones.
func (l *w4a4Layout) packWeights(w *quant.Weights, is8 []bool) []byte {
	return l.pack(w.N, w.K, w.Group, is8, w.Row)
}
