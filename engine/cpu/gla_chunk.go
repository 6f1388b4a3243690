package cpu

import "math"

// The chunked form follows flash-linear-attention's chunk_gla
// (fla/ops/gla/chunk.py): chunks of 64 tokens, each cut into 16-row
// sub-chunks, with the gates' chunk-local cumulative sums b (here in log2
// space, so every factor is an exp2). For row r of a chunk entered with
// state S, with q already scaled,
//
//	o_r = (q_r ⊙ 2^b_r) S + Σ_{j<=r} A_rj v_j,   A_rj = Σ_i q_ri k_ji 2^(b_ri - b_ji)
//	S'  = diag(2^b_last) S + Σ_j (k_j ⊙ 2^(b_last - b_j))^T v_j
//
// The dense parts are matrix products (glaMatMul: gemm for float32): the
// output is one product [q ⊙ 2^b | A] · [S; V] written straight into o, the
// blocks of A left of the diagonal sub-chunks one product per sub-chunk, and
// the state update one product. Every exp2 is of a difference b_p - b_c with
// p >= c (a later row's cumulative gate less an earlier one's), or of b_r
// itself, so when the gates are <= 0 no exp2 of a positive number is formed:
// pairs c > r are masked before any exp2 is taken. Inside the diagonal
// sub-chunks a pair's factor is the product of the single tokens' decays
// 2^(b_t - b_t-1) between them, at most 15, a multiply per pair rather than
// an exp2.
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
	lda := K + glaChunk // row stride of w.qa, [q ⊙ 2^b | A]
	q := func(r int) []T { return j.row(j.q, t0+r, h, K) }
	k := func(r int) []T { return j.row(j.k, t0+r, h, K) }

	// Chunk-local cumulative gates, log2 space, in float64 whatever T: the
	// differences keep float64 accuracy.
	for r := range L {
		br, mr, gr := glaRow(w.b, r, K), glaRow(w.m, r, K), j.row(j.g, t0+r, h, K)
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

	// The scaled queries and each token's own decay 2^(b_r - b_r-1), which
	// the diagonal walk takes one step at a time (and never at a
	// sub-chunk's first token).
	for r := range L {
		qs := glaRow(w.qs, r, K)
		for i, x := range q(r) {
			qs[i] = j.scale * x
		}
		if r%glaSub != 0 {
			w.factor(glaRow(w.d, r, K), nil, r, r-1)
		}
	}

	// kn holds k_c ⊙ 2^(b_p - b_c) for rows c < kept and a pivot row p >= c:
	// moving the pivot on to p' >= p decays the kept rows by 2^(b_p' - b_p)
	// and adds the new ones, so each row takes one exp2 in the chunk.
	pivot, kept := 0, 0
	advance := func(to, rows int) {
		if kept > 0 {
			w.factor(w.f, nil, to, pivot)
			for c := range kept {
				glaMul(glaRow(w.kn, c, K), w.f)
			}
		}
		for c := kept; c < rows; c++ {
			w.factor(glaRow(w.kn, c, K), k(c), to, c)
		}
		pivot, kept = to, rows
	}

	for s0 := 0; s0 < L; s0 += glaSub {
		s1 := min(s0+glaSub, L)
		if s0 == 0 {
			// The first sub-chunk's inter-chunk factors: the state's decay
			// 2^b_r to each row.
			for r := range s1 {
				w.factor(w.qa[r*lda:r*lda+K], glaRow(w.qs, r, K), r, -1)
			}
		} else {
			// Blocks left of the diagonal: 2^(b_r - b_c) for c < n <= r,
			// with n the sub-chunk's first row, is 2^(b_r - b_n) *
			// 2^(b_n - b_c), two non-positive exponents, so the block is a
			// plain product. The inter-chunk factor 2^b_r is 2^(b_r - b_n) *
			// 2^b_n.
			w.factor(w.f, nil, s0, -1)
			for r := s0; r < s1; r++ {
				qn := glaRow(w.qn, r-s0, K)
				w.factor(qn, glaRow(w.qs, r, K), r, s0)
				qe := w.qa[r*lda : r*lda+K]
				copy(qe, qn)
				glaMul(qe, w.f)
			}
			advance(s0, s0)
			glaMatMul(&w.ws, s1-s0, s0, K, glaMat[T]{w.qn, K, false}, glaMat[T]{w.kn, K, true},
				w.qa[s0*lda+K:], lda, false)
		}
		// The diagonal sub-chunk, the lower triangle only: walking c down
		// from r, u = q_r ⊙ 2^(b_r - b_c) takes one token's decay at a step.
		for r := s0; r < s1; r++ {
			ar := w.qa[r*lda+K : r*lda+K+L]
			u := w.u
			copy(u, glaRow(w.qs, r, K))
			ar[r] = glaDot(u, k(r))
			for c := r - 1; c >= s0; c-- {
				glaMul(u, glaRow(w.d, c+1, K))
				ar[c] = glaDot(u, k(c))
			}
			clear(ar[r+1:])
		}
	}

	// o = [q ⊙ 2^b | A] · [S; V], written into the output rows of head h.
	for c := range L {
		copy(w.sv[(K+c)*V:(K+c+1)*V], j.row(j.v, t0+c, h, V))
	}
	ldo := j.d.H * V
	glaMatMul(&w.ws, L, V, K+L, glaMat[T]{w.qa, lda, false}, glaMat[T]{w.sv, V, false},
		j.o[(t0*j.d.H+h)*V:], ldo, false)

	// The state leaving the chunk: S = diag(2^b_last) S + (k ⊙ 2^(b_last - b))^T V.
	advance(L-1, L)
	w.factor(w.f, nil, L-1, -1)
	for i, d := range w.f {
		glaScal(w.S[i*V:(i+1)*V], d)
	}
	glaMatMul(&w.ws, K, V, L, glaMat[T]{w.kn, K, true}, glaMat[T]{w.sv[K*V:], V, false}, w.S, V, true)
}

// factor sets dst = x ⊙ 2^(b_hi - b_lo), x scaled by the decay from just
// after row lo to row hi (lo = -1: from the chunk's start); x nil stands for
// ones.
func (w *glaWork[T]) factor(dst, x []T, hi, lo int) {
	K := len(w.ones)
	bl, ml := w.zero, w.zero
	if lo >= 0 {
		bl, ml = glaRow(w.b, lo, K), glaRow(w.m, lo, K)
	}
	if x == nil {
		x = w.ones
	}
	glaDecay(dst, x, glaRow(w.b, hi, K), bl, glaRow(w.m, hi, K), ml)
}
