package cpu

import (
	"context"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/cpu/gemm"
)

// glaJob is one GLA forward in compute type T over row-major storage: q, k, g
// [tokens, H, K], v and o [tokens, H, V] with tokens the flattened B*T axis
// that d.Offsets cuts into sequences. h0 and ht (optional) are float32
// [N, H, K, V]; they may share storage (the decode step).
type glaJob[T float] struct {
	q, k, v, g, o []T
	h0, ht        []float32
	d             backend.GLADims
	scale         T
	form          backend.GLAForm
	path          glaPath
}

// glaMinWork is about the number of multiply-adds below which one more
// goroutine costs more than it saves.
const glaMinWork = 1 << 15

// run computes every (sequence, head) pair, in parallel: pairs are
// independent, and within a pair the state carries from token to token.
// Where there are too few pairs to keep every thread busy, the chunked form
// splits each pair over its chunks instead (glaJob.split, glaSplit.run).
func (j *glaJob[T]) run(ctx context.Context, b *Backend) error {
	d := j.d
	pairs := d.N() * d.H
	if pairs == 0 {
		return nil
	}
	if sp, ok := j.split(b.threads); ok {
		return sp.run(ctx, b)
	}
	perPair := max(1, d.Offsets[d.N()]/d.N()*d.K*d.V*2)
	grain := max(1, glaMinWork/perPair)
	return b.parallelFor(ctx, pairs, grain, func(lo, hi int) {
		w := newGLAWork[T](d.K, d.V, j.form)
		for p := lo; p < hi; p++ {
			if ctx.Err() != nil {
				return // parallelFor reports ctx's error
			}
			j.sequence(w, p/d.H, p%d.H)
		}
	})
}

// sequence runs sequence s, head h from its initial state and stores the
// final one.
func (j *glaJob[T]) sequence(w *glaWork[T], s, h int) {
	d := j.d
	blk := (s*d.H + h) * d.K * d.V
	j.loadState(w.S, blk)
	t0, t1 := d.Offsets[s], d.Offsets[s+1]
	if j.form == backend.GLAChunked {
		for c := t0; c < t1; c += glaChunk {
			j.chunk(w, h, c, min(c+glaChunk, t1), true)
		}
	} else {
		for t := t0; t < t1; t++ {
			glaStep(w.S, j.row(j.q, t, h, d.K), j.row(j.k, t, h, d.K), j.row(j.v, t, h, d.V),
				j.row(j.g, t, h, d.K), j.row(j.o, t, h, d.V), j.scale)
		}
	}
	j.storeState(w.S, blk)
}

// loadState sets S from h0's values from offset off on (h0 is [N, H, K, V]),
// or to zeros where there is no h0.
func (j *glaJob[T]) loadState(S []T, off int) {
	if j.h0 == nil {
		clear(S)
		return
	}
	for i, x := range j.h0[off : off+len(S)] {
		S[i] = T(x)
	}
}

// storeState writes S into ht from offset off on, where there is an ht.
func (j *glaJob[T]) storeState(S []T, off int) {
	if j.ht == nil {
		return
	}
	for i, x := range S {
		j.ht[off+i] = float32(x)
	}
}

// row is token t, head h of a [tokens, H, width] operand.
func (j *glaJob[T]) row(x []T, t, h, width int) []T {
	off := (t*j.d.H + h) * width
	return x[off : off+width : off+width]
}

// glaWork is one goroutine's scratch, reused from pair to pair: the state
// and, for the chunked form, the chunk's buffers.
type glaWork[T float] struct {
	S  []T       // state [K, V]: the head of sv
	b  []float64 // cumulative log2 gates of the chunk, clamped ones apart [glaChunk, K]
	m  []float64 // the number of clamped gates in each cumulative gate [glaChunk, K]
	d  []T       // each token's own decay 2^g [glaChunk, K]
	qs []T       // q times the scale [glaChunk, K]
	qa []T       // [q ⊙ 2^b | A], A the intra-chunk attention [glaChunk, K+glaChunk]
	qn []T       // q scaled by gate ratios [glaChunk, K]
	kn []T       // k scaled by gate ratios [glaChunk, K]
	kl []T       // k scaled by its decay to the chunk's last row [glaChunk, K]
	sv []T       // [S; the chunk's V] [K+glaChunk, V]
	u  []T       // one row of K: the diagonal walk's query, or a factor
	f  []T       // one row of K: a factor
	lo []float64 // one row of K: each cumulative gate's least value in the chunk
	hi []float64 // one row of K: its greatest

	ones []T       // K ones
	zero []float64 // K zeros

	ws gemm.Workspace // packing buffers of the float32 products
}

func newGLAWork[T float](k, v int, form backend.GLAForm) *glaWork[T] {
	if form != backend.GLAChunked {
		return &glaWork[T]{S: make([]T, k*v)}
	}
	w := &glaWork[T]{
		b:  make([]float64, glaChunk*k),
		m:  make([]float64, glaChunk*k),
		d:  make([]T, glaChunk*k),
		qs: make([]T, glaChunk*k),
		qa: make([]T, glaChunk*(k+glaChunk)),
		qn: make([]T, glaChunk*k),
		kn: make([]T, glaChunk*k),
		kl: make([]T, glaChunk*k),
		sv: make([]T, (k+glaChunk)*v),
		u:  make([]T, k),
		f:  make([]T, k),
		lo: make([]float64, k),
		hi: make([]float64, k),

		ones: make([]T, k),
		zero: make([]float64, k),
	}
	for i := range w.ones {
		w.ones[i] = 1
	}
	w.S = w.sv[: k*v : k*v]
	return w
}

// glaRow is row r of a row-major matrix of n columns.
func glaRow[E any](x []E, r, n int) []E { return x[r*n : (r+1)*n : (r+1)*n] }
