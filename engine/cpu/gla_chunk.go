package cpu

import "math"

// The chunked form follows flash-linear-attention's chunk_gla
// (fla/ops/gla/chunk.py): chunks of 64 tokens with the gates' chunk-local
// cumulative sums b (here in log2 space, so every factor is an exp2). For
// row r of a chunk entered with state S, with q already scaled,
//
//	o_r = (q_r ⊙ 2^b_r) S + Σ_{j<=r} A_rj v_j,   A_rj = Σ_i q_ri k_ji 2^(b_ri - b_ji)
//	S'  = diag(2^b_last) S + Σ_j (k_j ⊙ 2^(b_last - b_j))^T v_j
//
// The dense parts are matrix products (glaMatMul: gemm for float32): the
// output is one product [q ⊙ 2^b | A] · [S; V] written straight into o, and
// the state update one product. A itself takes one of two forms. Where the
// gates spread little over the chunk (glaSpan; every usual gate), chunkWide
// splits every pair's factor at one pivot row and A is one product. Where
// they do not (strong decay, -Inf gates), chunkSub cuts the chunk into
// 16-row sub-chunks as chunk_gla does: the blocks of A left of the diagonal
// are one product per sub-chunk, with factors 2^(b_p - b_c), p >= c (a later
// row's cumulative gate less an earlier one's), so that when the gates are
// <= 0 no exp2 of a positive number is formed; inside the diagonal
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

	// glaSpan bounds the spread (max - min, log2) of each cumulative gate
	// over a chunk for the one-product form (chunkWide): its factors
	// 2^(b_r - b_p) then lie in [2^-32, 2^32], far from float32's overflow
	// and underflow, so splitting a pair's decay at the pivot p loses
	// nothing.
	glaSpan = 32
)

// chunk runs tokens [t0, t1) (at most glaChunk) of head h: it writes their
// outputs and, when carry is set, advances w.S past them (the split path
// has every chunk's entering state already and leaves it). Gates that stay
// within glaSpan over the chunk (every usual gate) take the one-product
// form; strong decay takes the sub-chunk form, whose every factor is a
// decay.
func (j *glaJob[T]) chunk(w *glaWork[T], h, t0, t1 int, carry bool) {
	if j.gates(w, h, t0, t1-t0) {
		j.chunkWide(w, h, t0, t1-t0, carry)
		return
	}
	j.chunkSub(w, h, t0, t1, carry)
}

// gates sets the chunk-local cumulative gates, log2 space, in float64
// whatever T (the differences keep float64 accuracy), and reports whether
// every one spreads at most glaSpan over the chunk with no clamped gate
// after its first row (NaN reports false).
func (j *glaJob[T]) gates(w *glaWork[T], h, t0, L int) bool {
	K := j.d.K
	lo, hi := w.lo, w.hi
	for i := range K {
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
	}
	for r := range L {
		pb, pm := w.zero, w.zero
		if r > 0 {
			pb, pm = glaRow(w.b, r-1, K), glaRow(w.m, r-1, K)
		}
		glaGateRow(j.row(j.g, t0+r, h, K), pb, pm, glaRow(w.b, r, K), glaRow(w.m, r, K), lo, hi)
	}
	// A NaN stays in the sums to the last row.
	m0, mL, bL := glaRow(w.m, 0, K), glaRow(w.m, L-1, K), glaRow(w.b, L-1, K)
	for i := range K {
		if !(hi[i]-lo[i] <= glaSpan) || m0[i] != mL[i] || math.IsNaN(bL[i]) {
			return false
		}
	}
	return true
}

// fetch asks the caches for token t's rows of head h (q's only when q is
// set), where t exists: the chunks ask for the next chunk's rows while they
// run, as the rows of a head lie too far apart for the hardware
// prefetchers.
func (j *glaJob[T]) fetch(t, h int, q bool) {
	if t >= j.d.Offsets[j.d.N()] {
		return
	}
	if q {
		glaFetch(j.row(j.q, t, h, j.d.K))
	}
	glaFetch(j.row(j.k, t, h, j.d.K))
	glaFetch(j.row(j.g, t, h, j.d.K))
	glaFetch(j.row(j.v, t, h, j.d.V))
}

// chunkWide is the chunk with one pivot row p for all its pairs: A_rc =
// (q_r ⊙ 2^(b_r - b_p)) · (k_c ⊙ 2^(b_p - b_c)), so the intra-chunk
// attention is one product, masked to its lower triangle afterwards (the
// pairs c > r, formed and then dropped, are finite: gates spread at most
// glaSpan). This is the chunk-level factorisation of flash-linear-attention's
// chunk_gla (fla/ops/gla/chunk.py), which splits at each sub-chunk's first
// row instead; the spread check stands in for its sub-chunks.
func (j *glaJob[T]) chunkWide(w *glaWork[T], h, t0, L int, carry bool) {
	K, V := j.d.K, j.d.V
	lda := K + glaChunk // row stride of w.qa, [q ⊙ 2^b | A]
	// Every factor is an exp2 of a difference within glaSpan, or a product
	// of two: 2^b_r = 2^(b_r - b_p) 2^b_p and 2^(b_last - b_c) =
	// 2^(b_last - b_p) 2^(b_p - b_c).
	p, last := L/2, L-1
	fp, fl := w.f, w.u
	w.factor(fp, w.ones, 1, p, -1)
	if carry {
		w.factor(fl, w.ones, 1, last, p)
	}
	for r := range L {
		j.fetch(t0+glaChunk+r, h, true)
		q, k := j.row(j.q, t0+r, h, K), j.row(j.k, t0+r, h, K)
		qn, kn := glaRow(w.qn, r, K), glaRow(w.kn, r, K)
		w.factor(qn, q, j.scale, r, p)
		glaMul(w.qa[r*lda:r*lda+K], qn, fp)
		w.factor(kn, k, 1, p, r)
		if carry {
			glaMul(glaRow(w.kl, r, K), kn, fl)
		}
		copy(w.sv[(K+r)*V:(K+r+1)*V], j.row(j.v, t0+r, h, V))
	}
	glaMatMul(&w.ws, L, L, K, glaMat[T]{w.qn, K, false}, glaMat[T]{w.kn, K, true}, w.qa[K:], lda, false)
	for r := range L {
		clear(w.qa[r*lda+K+r+1 : r*lda+K+L])
	}
	j.output(w, h, t0, L)
	if carry {
		w.state(w.kl, L)
	}
}

// state moves w.S past a chunk of L rows: S = diag(2^b_last) S + kx^T V,
// with kx = k ⊙ 2^(b_last - b) and V in w.sv.
func (w *glaWork[T]) state(kx []T, L int) {
	K, V := len(w.ones), len(w.S)/len(w.ones)
	w.factor(w.f, w.ones, 1, L-1, -1)
	for i, d := range w.f {
		glaScal(w.S[i*V:(i+1)*V], d)
	}
	glaMatMul(&w.ws, K, V, L, glaMat[T]{kx, K, true}, glaMat[T]{w.sv[K*V:], V, false}, w.S, V, true)
}

// output sets the chunk's outputs o = [q ⊙ 2^b | A] · [S; V], written into
// the output rows of head h; w.sv holds V already.
func (j *glaJob[T]) output(w *glaWork[T], h, t0, L int) {
	K, V := j.d.K, j.d.V
	lda := K + glaChunk
	glaMatMul(&w.ws, L, V, K+L, glaMat[T]{w.qa, lda, false}, glaMat[T]{w.sv, V, false},
		j.o[(t0*j.d.H+h)*V:], j.d.H*V, false)
}

// chunkSub is the chunk in 16-row sub-chunks, as flash-linear-attention's
// chunk_gla: it takes any gates, strong decay and clamped ones included.
func (j *glaJob[T]) chunkSub(w *glaWork[T], h, t0, t1 int, carry bool) {
	K, V, L := j.d.K, j.d.V, t1-t0
	lda := K + glaChunk // row stride of w.qa, [q ⊙ 2^b | A]
	q := func(r int) []T { return j.row(j.q, t0+r, h, K) }
	k := func(r int) []T { return j.row(j.k, t0+r, h, K) }

	// The scaled queries and each token's own decay 2^(b_r - b_r-1), which
	// the diagonal walk takes one step at a time (and never at a
	// sub-chunk's first token).
	for r := range L {
		j.fetch(t0+glaChunk+r, h, true)
		qs := glaRow(w.qs, r, K)
		for i, x := range q(r) {
			qs[i] = j.scale * x
		}
		if r%glaSub != 0 {
			w.factor(glaRow(w.d, r, K), w.ones, 1, r, r-1)
		}
	}

	// kn holds k_c ⊙ 2^(b_p - b_c) for rows c < kept and a pivot row p >= c:
	// moving the pivot on to p' >= p decays the kept rows by 2^(b_p' - b_p)
	// and adds the new ones, so each row takes one exp2 in the chunk.
	pivot, kept := 0, 0
	advance := func(to, rows int) {
		if kept > 0 {
			w.factor(w.f, w.ones, 1, to, pivot)
			for c := range kept {
				kc := glaRow(w.kn, c, K)
				glaMul(kc, kc, w.f)
			}
		}
		for c := kept; c < rows; c++ {
			w.factor(glaRow(w.kn, c, K), k(c), 1, to, c)
		}
		pivot, kept = to, rows
	}

	for s0 := 0; s0 < L; s0 += glaSub {
		s1 := min(s0+glaSub, L)
		if s0 == 0 {
			// The first sub-chunk's inter-chunk factors: the state's decay
			// 2^b_r to each row.
			for r := range s1 {
				w.factor(w.qa[r*lda:r*lda+K], glaRow(w.qs, r, K), 1, r, -1)
			}
		} else {
			// Blocks left of the diagonal: 2^(b_r - b_c) for c < n <= r,
			// with n the sub-chunk's first row, is 2^(b_r - b_n) *
			// 2^(b_n - b_c), two non-positive exponents, so the block is a
			// plain product. The inter-chunk factor 2^b_r is 2^(b_r - b_n) *
			// 2^b_n.
			w.factor(w.f, w.ones, 1, s0, -1)
			for r := s0; r < s1; r++ {
				qn := glaRow(w.qn, r-s0, K)
				w.factor(qn, glaRow(w.qs, r, K), 1, r, s0)
				qe := w.qa[r*lda : r*lda+K]
				glaMul(qe, qn, w.f)
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
				glaMul(u, u, glaRow(w.d, c+1, K))
				ar[c] = glaDot(u, k(c))
			}
			clear(ar[r+1:])
		}
	}

	for c := range L {
		copy(w.sv[(K+c)*V:(K+c+1)*V], j.row(j.v, t0+c, h, V))
	}
	j.output(w, h, t0, L)
	if !carry {
		return
	}

	// The state leaving the chunk: S = diag(2^b_last) S + (k ⊙ 2^(b_last - b))^T V.
	advance(L-1, L)
	w.state(w.kn, L)
}

// factor sets dst = x ⊙ 2^(b_hi - b_lo) * s, x scaled by the gates from
// just after row lo to row hi (lo = -1: from the chunk's start).
func (w *glaWork[T]) factor(dst, x []T, s T, hi, lo int) {
	K := len(w.ones)
	bl, ml := w.zero, w.zero
	if lo >= 0 {
		bl, ml = glaRow(w.b, lo, K), glaRow(w.m, lo, K)
	}
	glaDecay(dst, x, s, glaRow(w.b, hi, K), bl, glaRow(w.m, hi, K), ml)
}
