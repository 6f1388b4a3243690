package cpu

import "math"

// The chunked form follows flash-linear-attention's chunk_gla
// (fla/ops/gla/chunk.py): chunks of 64 tokens, each cut into 16-row
// sub-chunks, with the gates' chunk-local cumulative sums b (here in log2
// space, so every factor is an exp2). For row r of a chunk entered with
// state S,
//
//	o_r = scale * [ (q_r ⊙ 2^b_r) S + Σ_{j<=r} (Σ_i q_ri k_ji 2^(b_ri - b_ji)) v_j ]
//	S'  = diag(2^b_last) S + Σ_j (k_j ⊙ 2^(b_last - b_j))^T v_j
//
// Every exponent is a difference b_r - b_j with r >= j, or b_r itself, so no
// exp2 of a positive number is formed when the gates are <= 0: the
// upper-triangular pairs (j > r) are skipped before any exp2 is taken.
const (
	glaChunk = 64
	glaSub   = 16

	// glaGateFloor bounds each log2 gate from below: a gate of -Inf would
	// make differences -Inf - -Inf = NaN. 2^-1100 is 0 in float64, so the
	// clamp changes no factor. Clamped gates are counted apart (m) rather
	// than added to the sum (b), so that strong decay (g = -1e4, -Inf) does
	// not inflate b and cost the differences their precision: a cumulative
	// gate is b + glaGateFloor*m.
	glaGateFloor = -1100.0
)

// chunk runs tokens [t0, t1) (at most glaChunk) of head h: it writes their
// outputs and advances w.S past them.
func (j *glaJob[T]) chunk(w *glaWork[T], h, t0, t1 int) {
	K, V, L := j.d.K, j.d.V, t1-t0
	q := func(r int) []T { return j.row(j.q, t0+r, h, K) }
	k := func(r int) []T { return j.row(j.k, t0+r, h, K) }
	v := func(r int) []T { return j.row(j.v, t0+r, h, V) }
	b := func(r int) []float64 { return w.b[r*K : (r+1)*K : (r+1)*K] }
	m := func(r int) []float64 { return w.m[r*K : (r+1)*K : (r+1)*K] }
	qe := func(r int) []T { return w.qe[r*K : (r+1)*K : (r+1)*K] }
	kn := func(r int) []T { return w.kn[r*K : (r+1)*K : (r+1)*K] }
	oc := func(r int) []T { return w.oc[r*V : (r+1)*V : (r+1)*V] }
	a := func(r int) []T { return w.a[r*glaChunk : r*glaChunk+L] }

	// Chunk-local cumulative gates, log2 space, in float64 whatever T: Go's
	// exp2 is float64 anyway, and the differences keep float64 accuracy.
	for r := range L {
		br, mr, gr := b(r), m(r), j.row(j.g, t0+r, h, K)
		for i := range K {
			var x, n float64
			if r > 0 {
				x, n = w.b[(r-1)*K+i], w.m[(r-1)*K+i]
			}
			if y := float64(gr[i]) * math.Log2E; y < glaGateFloor {
				n++
			} else {
				x += y // NaN stays NaN
			}
			br[i], mr[i] = x, n
		}
	}

	// Inter-chunk: the state entering the chunk, decayed to each row.
	for r := range L {
		qr, br, mr, er, or := q(r), b(r), m(r), qe(r), oc(r)
		for i := range K {
			er[i] = qr[i] * T(math.Exp2(br[i]+glaGateFloor*mr[i]))
		}
		clear(or)
		for i := range K {
			glaAxpy(or, er[i], w.S[i*V:(i+1)*V])
		}
	}

	// Intra-chunk attention a[r][j], j <= r, by 16-row sub-chunks.
	for s0 := 0; s0 < L; s0 += glaSub {
		s1 := min(s0+glaSub, L)
		// Rows of earlier sub-chunks: factor 2^(b_r - b_j) through the
		// sub-chunk's first row n as 2^(b_r - b_n) * 2^(b_n - b_j), two
		// non-positive exponents, so the block is a plain product.
		if s0 > 0 {
			bn, mn := b(s0), m(s0)
			for r := s0; r < s1; r++ {
				qr, br, mr, er := q(r), b(r), m(r), qe(r)
				for i := range K {
					er[i] = qr[i] * T(math.Exp2(br[i]-bn[i]+glaGateFloor*(mr[i]-mn[i])))
				}
			}
			for c := range s0 {
				kc, bc, mc, nc := k(c), b(c), m(c), kn(c)
				for i := range K {
					nc[i] = kc[i] * T(math.Exp2(bn[i]-bc[i]+glaGateFloor*(mn[i]-mc[i])))
				}
			}
			for r := s0; r < s1; r++ {
				ar, er := a(r), qe(r)
				for c := range s0 {
					ar[c] = glaDot(er, kn(c))
				}
			}
		}
		// The diagonal sub-chunk: each pair's own factor (the lower triangle only).
		for r := s0; r < s1; r++ {
			qr, br, mr, ar := q(r), b(r), m(r), a(r)
			for c := s0; c <= r; c++ {
				kc, bc, mc := k(c), b(c), m(c)
				var acc T
				for i := range K {
					acc += qr[i] * kc[i] * T(math.Exp2(br[i]-bc[i]+glaGateFloor*(mr[i]-mc[i])))
				}
				ar[c] = acc
			}
		}
	}
	for r := range L {
		ar, or := a(r), oc(r)
		for c := 0; c <= r; c++ {
			glaAxpy(or, ar[c], v(c))
		}
		out := j.row(j.o, t0+r, h, V)
		for x := range out {
			out[x] = j.scale * or[x]
		}
	}

	// The state leaving the chunk.
	bl, ml := b(L-1), m(L-1)
	for c := range L {
		kc, bc, mc, nc := k(c), b(c), m(c), kn(c)
		for i := range K {
			nc[i] = kc[i] * T(math.Exp2(bl[i]-bc[i]+glaGateFloor*(ml[i]-mc[i])))
		}
	}
	for i := range K {
		row := w.S[i*V : (i+1)*V]
		d := T(math.Exp2(bl[i] + glaGateFloor*ml[i]))
		for x := range row {
			row[x] *= d
		}
		for c := range L {
			glaAxpy(row, w.kn[c*K+i], v(c))
		}
	}
}
