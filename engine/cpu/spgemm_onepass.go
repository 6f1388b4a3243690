package cpu

import (
	"context"
	"sync"

	"github.com/matmix/matmix/engine/sparse"
)

// onePass computes C in a single numeric pass into arrays of bound entries
// (checked by tryOnePass): the rows of each chunk are written one after
// the other from the chunk's start at the bound, and each finished chunk is
// moved down to its final place (compactor), so no gap is left.
func onePass[T sparse.Float](ctx context.Context, b *Backend, pool *spgemmPool, p *spgemmPlan[T], x, y *sparse.CSR[T], c *sparse.CSR[T], bound int64) (*sparse.CSR[T], error) {
	p.schedule(c.RowPtr)
	nchunks := len(p.starts) - 1
	m := &compactor[T]{starts: p.starts, done: make([]bool, nchunks)}
	m.cols, m.vals = allocC[T](bound)
	m.ends = append([]int64(nil), p.starts[:nchunks]...) // chunk c's next free entry
	err := p.run(ctx, b, pool, x, y, true, func(w *spgemmWork[T], ch, i int) {
		lo, hi := m.ends[ch], m.ends[ch]+min(c.RowPtr[i+1], int64(c.Cols))
		n := w.fill(p, x, y, i, m.cols[lo:hi:hi], m.vals[lo:hi:hi])
		c.RowPtr[i+1] = int64(n)
		m.ends[ch] += int64(n)
	}, m.chunkDone)
	if err != nil {
		return nil, err
	}
	for i := range c.Rows {
		c.RowPtr[i+1] += c.RowPtr[i]
	}
	c.ColInd, c.Val = m.cols[:m.at:m.at], m.vals[:m.at:m.at]
	return c, nil
}

// compactor moves the chunks of a one-pass product down to their final
// place, in chunk order, as they finish: chunk c goes right after chunk
// c-1's entries, which needs c-1 in place first, and may overlap where c-1
// came from, so one worker at a time moves (the one whose chunk completed
// the run), while the others compute. A chunk only moves down, into its own
// span or ones already moved, never into a chunk being written.
type compactor[T sparse.Float] struct {
	cols   []int32 // C's arrays, at the bound
	vals   []T
	starts []int64 // chunk c was written from starts[c]
	ends   []int64 // to ends[c]

	mu     sync.Mutex
	done   []bool // chunk c is written
	next   int    // the first chunk not moved
	at     int64  // where chunk next goes: the entries moved so far
	moving bool   // a worker is moving chunks
}

func (m *compactor[T]) chunkDone(_ *spgemmWork[T], c int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done[c] = true
	if m.moving {
		return // the mover will take it
	}
	m.moving = true
	for m.next < len(m.done) && m.done[m.next] {
		from, to := m.starts[m.next], m.at
		n := m.ends[m.next] - from
		m.next++
		m.at += n
		m.mu.Unlock()
		if from != to {
			copy(m.cols[to:to+n], m.cols[from:from+n])
			copy(m.vals[to:to+n], m.vals[from:from+n])
		}
		m.mu.Lock()
	}
	m.moving = false
}
