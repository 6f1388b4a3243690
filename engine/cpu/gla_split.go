package cpu

import (
	"context"
	"sort"

	"github.com/matmix/matmix/engine/backend"
)

// glaPath picks how the chunked form spreads over the threads.
type glaPath int

const (
	glaPathAuto   glaPath = iota // the split over chunks where it pays (glaJob.split)
	glaPathPairs                 // one goroutine per (sequence, head) pair
	glaPathChunks                // the split over chunks wherever its memory allows
)

const (
	// glaSplitCost is about the work of the split over chunks relative to
	// the pair path: every chunk reads its inputs and runs its gates twice,
	// and the states pass through memory. On one thread at B 1, T 4096,
	// K = V 64 (SIMD kernels) the split took 1.1-1.75x the pair path's time
	// (notes/s2/perf-glasplit.md).
	glaSplitCost = 1.5

	// glaSplitMaxBytes bounds the split's buffer of states (one K x V per
	// chunk): beyond it the pair path runs. With K = V = 64 it is 16 MiB per
	// 1M tokens·heads, a quarter of the inputs.
	glaSplitMaxBytes = 64 << 20
)

// glaSplit runs the chunked form of a job in parallel over (pair, chunk)
// rather than over pairs, in three passes, as flash-linear-attention's
// chunk_gla_fwd (fla/ops/gla/chunk.py) runs chunk_fwd_h, which stores the
// state entering every chunk, before the outputs (chunk_gla_fwd_o_gk), which
// are then independent across chunks:
//
//  1. in parallel over chunks: each chunk's own contribution to the state,
//     (k ⊙ 2^(b_last - b))^T V, and its total decay 2^b_last;
//  2. in parallel over pairs (and blocks of V's columns, which the chain
//     keeps apart), a chain over chunks: S_c+1 = diag(decay_c) S_c +
//     contribution_c (K x V per chunk), from h0 to ht;
//  3. in parallel over chunks: each chunk's outputs from its entering state.
//
// fla's chunk_fwd_h walks the chain with whole products per chunk; here the
// products leave the chain (pass 1), so that it is the only serial part.
type glaSplit[T float] struct {
	j *glaJob[T]
	n []int // the number of chunks of each sequence
	// item[s] is the first (pair, chunk) item of sequence s, slot[s] its
	// first state: a pair of n chunks has n items and n+1 states, the
	// entering state of each chunk, then the final one. [N+1]
	item, slot []int
	states     []T // [slots, K, V]
	decay      []T // each item's total decay [items, K]
}

// split returns the split over chunks of the chunked form when it pays on
// the given threads: when the pairs leave threads idle (or unbalanced) by
// more than the split's extra work costs, some pair has several chunks and
// the states fit glaSplitMaxBytes. Empty heads (K or V 0) take the pair
// path.
func (j *glaJob[T]) split(threads int) (*glaSplit[T], bool) {
	d := j.d
	if j.form != backend.GLAChunked || j.path == glaPathPairs || d.K == 0 || d.V == 0 {
		return nil, false
	}
	N := d.N()
	pairs := N * d.H
	if j.path == glaPathAuto && !(float64(pairs)*glaSplitCost < float64((pairs+threads-1)/threads*threads)) {
		return nil, false
	}
	sp := &glaSplit[T]{j: j, n: make([]int, N), item: make([]int, N+1), slot: make([]int, N+1)}
	for s := range N {
		sp.n[s] = (d.Offsets[s+1] - d.Offsets[s] + glaChunk - 1) / glaChunk
		sp.item[s+1] = sp.item[s] + d.H*sp.n[s]
		sp.slot[s+1] = sp.slot[s] + d.H*(sp.n[s]+1)
	}
	items, slots := sp.item[N], sp.slot[N]
	size := 4
	if _, ok := any(T(0)).(float64); ok {
		size = 8
	}
	if (j.path == glaPathAuto && items <= pairs) || (slots*d.K*d.V+items*d.K)*size > glaSplitMaxBytes {
		return nil, false
	}
	sp.states = make([]T, slots*d.K*d.V)
	sp.decay = make([]T, items*d.K)
	return sp, true
}

// at is item i's sequence, head and chunk.
func (sp *glaSplit[T]) at(i int) (s, h, c int) {
	s = sort.Search(len(sp.n), func(s int) bool { return sp.item[s+1] > i })
	r := i - sp.item[s]
	return s, r / sp.n[s], r % sp.n[s]
}

// state is state c (0: entering the first chunk) of sequence s, head h.
func (sp *glaSplit[T]) state(s, h, c int) []T {
	kv := sp.j.d.K * sp.j.d.V
	i := sp.slot[s] + h*(sp.n[s]+1) + c
	return sp.states[i*kv : (i+1)*kv : (i+1)*kv]
}

// tokens is the token range of chunk c of sequence s.
func (sp *glaSplit[T]) tokens(s, c int) (t0, t1 int) {
	off := sp.j.d.Offsets
	t0 = off[s] + c*glaChunk
	return t0, min(t0+glaChunk, off[s+1])
}

// run makes the three passes; each is parallel over its items and waits for
// the one before.
func (sp *glaSplit[T]) run(ctx context.Context, b *Backend) error {
	j, d := sp.j, sp.j.d
	items := sp.item[d.N()]
	grain := max(1, glaMinWork/(glaChunk*d.K*d.V*2))
	chunks := func(body func(w *glaWork[T], i, s, h, c int)) error {
		return b.parallelFor(ctx, items, grain, func(lo, hi int) {
			w := newGLAWork[T](d.K, d.V, j.form)
			for i := lo; i < hi; i++ {
				if ctx.Err() != nil {
					return // parallelFor reports ctx's error
				}
				s, h, c := sp.at(i)
				body(w, i, s, h, c)
			}
		})
	}
	err := chunks(func(w *glaWork[T], i, s, h, c int) {
		t0, t1 := sp.tokens(s, c)
		j.contribution(w, h, t0, t1, sp.state(s, h, c+1), sp.decay[i*d.K:(i+1)*d.K])
	})
	if err != nil {
		return err
	}
	// The chain in nb column blocks per pair, enough to give every thread
	// one.
	nb := min(d.V, max(1, b.threads/(d.N()*d.H)))
	err = b.parallelFor(ctx, d.N()*d.H*nb, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p, blk := i/nb, i%nb
			sp.chain(p/d.H, p%d.H, blk*d.V/nb, (blk+1)*d.V/nb)
		}
	})
	if err != nil {
		return err
	}
	return chunks(func(w *glaWork[T], i, s, h, c int) {
		t0, t1 := sp.tokens(s, c)
		copy(w.S, sp.state(s, h, c))
		j.chunk(w, h, t0, t1, false)
	})
}

// contribution sets dst = (k ⊙ 2^(b_last - b))^T V, what tokens [t0, t1) of
// head h add to the state, and decay = 2^b_last, what they decay it by.
// Every factor is one exp2 of a later cumulative gate less an earlier one,
// as in the sub-chunk form, so that any gates (strong, -Inf) are safe.
func (j *glaJob[T]) contribution(w *glaWork[T], h, t0, t1 int, dst, decay []T) {
	K, V, L := j.d.K, j.d.V, t1-t0
	j.gates(w, h, t0, L)
	for r := range L {
		j.fetch(t0+glaChunk+r, h, false)
		w.factor(glaRow(w.kl, r, K), j.row(j.k, t0+r, h, K), 1, L-1, r)
		copy(w.sv[(K+r)*V:(K+r+1)*V], j.row(j.v, t0+r, h, V))
	}
	glaMatMul(&w.ws, K, V, L, glaMat[T]{w.kl, K, true}, glaMat[T]{w.sv[K*V:], V, false}, dst, V, false)
	w.factor(decay, w.ones, 1, L-1, -1)
}

// chain sets columns [v0, v1) of the states of sequence s, head h from its
// initial one, each state c+1 holding chunk c's contribution on entry, and
// stores the final state. The columns are independent, so that the chain,
// the only serial part, splits over threads even for one pair.
func (sp *glaSplit[T]) chain(s, h, v0, v1 int) {
	j, K, V := sp.j, sp.j.d.K, sp.j.d.V
	blk := (s*j.d.H + h) * K * V
	S := sp.state(s, h, 0)
	for i := range K {
		j.loadState(S[i*V+v0:i*V+v1], blk+i*V+v0)
	}
	first := sp.item[s] + h*sp.n[s]
	for c := range sp.n[s] {
		next := sp.state(s, h, c+1)
		for i, f := range sp.decay[(first+c)*K : (first+c+1)*K] {
			glaAxpy(next[i*V+v0:i*V+v1], f, S[i*V+v0:i*V+v1])
		}
		S = next
	}
	for i := range K {
		j.storeState(S[i*V+v0:i*V+v1], blk+i*V+v0)
	}
}
