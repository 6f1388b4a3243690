package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/quant"
)

// Blocking of the portable W4A4 GEMM. A task computes w4a4ChunkM rows by w4a4TileN
// columns of y: it packs its columns' weights once (blocks of w4a4Block
// columns, four int64 words per k, two columns to a word) and then runs
// tiles of w4a4TileM rows over them group by group, so that one group of one
// weight block (4 KiB at the default group of 128) stays in L1 while the
// tile's rows stream past it. Packing costs 1/w4a4ChunkM of the products.
const (
	w4a4Block  = 8
	w4a4Words  = w4a4Block / 2
	w4a4TileM  = 16
	w4a4ChunkM = 128 // a multiple of w4a4TileM
	w4a4TileN  = 64  // a multiple of w4a4Block
)

// w4a4Word holds, for one k, the codes of a block of w4a4Block weight
// columns two to an int64: word j is w[2j][k] + w[2j+1][k]<<32.
type w4a4Word = [w4a4Words]int64

// w4a4Portable is the W4A4 GEMM in plain Go, for the purego build tag and
// CPUs without the SIMD kernels of package qgemm. Activation codes are
// unpacked once per call into an M x K int8 panel; weight codes into
// two-lane words, so that one 64-bit multiply-add a*(w0 + w1*2^32) = a*w0 +
// (a*w1)*2^32 advances two columns' group sums at once (SIMD within a
// register: this halves the multiplies). Each lane is an exact int32 sum, as
// backend.CheckW4A4 bounds |I| <= 127*7*group below 2^31; the lanes are
// split after each group, and the groups are scaled and summed in float32.
func (b *Backend) w4a4Portable(ctx context.Context, act *quant.Activations, w *quant.Weights, y []float32) error {
	m, n, k := act.M, w.N, act.K
	p := w4a4Problem{
		w: w, ap: make([]int8, m*k), sa: act.Scales, y: y,
		m: m, n: n, k: k, group: act.Group, groups: quant.Groups(k, act.Group),
	}
	err := b.parallelFor(ctx, m, max(1, 1<<14/max(k, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			act.Row(r, p.ap[r*k:])
		}
	})
	if err != nil {
		return err
	}
	tilesN := (n + w4a4TileN - 1) / w4a4TileN
	tasks := (m + w4a4ChunkM - 1) / w4a4ChunkM * tilesN
	return b.parallelFor(ctx, tasks, 1, func(lo, hi int) {
		s := p.newScratch()
		for t := lo; t < hi; t++ {
			if ctx.Err() != nil {
				return
			}
			m0, n0 := t/tilesN*w4a4ChunkM, t%tilesN*w4a4TileN
			n1 := min(n0+w4a4TileN, n)
			p.packWeights(s, n0, n1)
			for t0 := m0; t0 < min(m0+w4a4ChunkM, m); t0 += w4a4TileM {
				p.tile(s, t0, min(t0+w4a4TileM, m), n0, n1)
			}
		}
	})
}

// w4a4Problem is one W4A4 GEMM with its activation codes unpacked (ap, M x K).
type w4a4Problem struct {
	w             *quant.Weights
	ap            []int8
	sa, y         []float32
	m, n, k       int
	group, groups int
}

// w4a4Scratch is one task runner's memory: the packed weights of a column
// tile (block b at wp[b*K:(b+1)*K]), unpacked weight rows and the output tile.
type w4a4Scratch struct {
	wp   []w4a4Word
	rows [w4a4Block][]int8
	acc  []float32
}

func (p *w4a4Problem) newScratch() *w4a4Scratch {
	s := &w4a4Scratch{wp: make([]w4a4Word, w4a4TileN/w4a4Block*p.k), acc: make([]float32, w4a4TileM*w4a4TileN)}
	for j := range s.rows {
		s.rows[j] = make([]int8, p.k)
	}
	return s
}

// packWeights packs the weight columns [n0, n1) into s.wp, the columns past
// n1 of the last block as zeros.
func (p *w4a4Problem) packWeights(s *w4a4Scratch, n0, n1 int) {
	k := p.k
	for b := 0; n0+b*w4a4Block < n1; b++ {
		for j, row := range s.rows {
			if c := n0 + b*w4a4Block + j; c < n1 {
				p.w.Row(c, row)
			} else {
				clear(row)
			}
		}
		dst := s.wp[b*k : (b+1)*k]
		for i := range dst {
			for j := range dst[i] {
				dst[i][j] = int64(s.rows[2*j][i]) + int64(s.rows[2*j+1][i])<<32
			}
		}
	}
}

// tile computes y[m0:m1, n0:n1] from the packed weights of the column tile
// starting at n0, accumulating in s.acc, and stores it.
func (p *w4a4Problem) tile(s *w4a4Scratch, m0, m1, n0, n1 int) {
	k, gs, nt := p.k, p.groups, n1-n0
	acc := s.acc[:(m1-m0)*nt]
	clear(acc)
	for g := range gs {
		lo, hi := quant.GroupBounds(k, p.group, g)
		for b := 0; n0+b*w4a4Block < n1; b++ {
			nb := n0 + b*w4a4Block
			cols := min(w4a4Block, n1-nb)
			wb := s.wp[b*k+lo : b*k+hi]
			var sw [w4a4Block]float32
			for j := range cols {
				sw[j] = p.w.Scales[(nb+j)*gs+g]
			}
			for m := m0; m < m1; m++ {
				t0, t1, t2, t3 := dot1x4(p.ap[m*k+lo:m*k+hi], wb)
				var sum [w4a4Block]int32
				sum[0], sum[1] = lanes(t0)
				sum[2], sum[3] = lanes(t1)
				sum[4], sum[5] = lanes(t2)
				sum[6], sum[7] = lanes(t3)
				sa := p.sa[m*gs+g]
				r := acc[(m-m0)*nt+nb-n0:][:cols]
				for j := range r {
					r[j] += sa * sw[j] * float32(sum[j])
				}
			}
		}
	}
	for m := m0; m < m1; m++ {
		copy(p.y[m*p.n+n0:m*p.n+n1], acc[(m-m0)*nt:(m-m0+1)*nt])
	}
}

// dot1x4 returns, for one activation run a and the matching words of one
// weight block, the four two-lane sums sum_k a[k]*w[k][j]. It is kept out
// of line: inlined into tile, its loop runs out of registers and spills.
//
//go:noinline
func dot1x4(a []int8, w []w4a4Word) (t0, t1, t2, t3 int64) {
	w = w[:len(a)]
	for i, x := range a {
		v := int64(x)
		ww := &w[i]
		t0 += v * ww[0]
		t1 += v * ww[1]
		t2 += v * ww[2]
		t3 += v * ww[3]
	}
	return
}

// lanes splits a two-lane sum lo + hi*2^32, each lane an int32, into its
// lanes: the low 32 bits are lo's two's complement, and what remains is
// exactly hi*2^32.
func lanes(t int64) (lo, hi int32) {
	lo = int32(t)
	return lo, int32((t - int64(lo)) >> 32)
}
