package cpu

import (
	"math"
	"sync"

	"github.com/matmix/matmix/engine/sparse"
)

// spgemmPool keeps the workers' accumulators between products, so repeated
// products skip their allocation and first-touch page faults. It is safe for
// concurrent products: each worker takes a workspace of its own and returns
// it clean (every accumulator empty). sync.Pool lets the garbage collector
// drop idle workspaces, so a large one does not stay forever.
type spgemmPool struct {
	f32, f64 sync.Pool // of *spgemmWork[float32] and *spgemmWork[float64]
}

// spgemmPool returns the workspaces of b, shared by its concurrent
// products, their workers and their passes.
func (b *Backend) spgemmPool() *spgemmPool { return &b.spgemm }

func (p *spgemmPool) of(isF32 bool) *sync.Pool {
	if isF32 {
		return &p.f32
	}
	return &p.f64
}

// getWork takes a workspace from p, or a new one.
func getWork[T sparse.Float](p *spgemmPool) *spgemmWork[T] {
	if w, ok := p.of(isFloat32[T]()).Get().(*spgemmWork[T]); ok {
		return w
	}
	return new(spgemmWork[T])
}

// putWork returns a clean workspace to p.
func putWork[T sparse.Float](p *spgemmPool, w *spgemmWork[T]) { p.of(isFloat32[T]()).Put(w) }

func isFloat32[T sparse.Float]() bool {
	var z T
	_, ok := any(z).(float32)
	return ok
}

// spgemmWork is one worker's accumulators. Between rows each is empty: acc
// holds -0 everywhere (the identity of IEEE addition: -0 + x is x for every
// x, +0 and NaN included, so an add needs no first-touch test and sums stay
// bit for bit those of assigning the first product), the bitmaps, byte
// map and hash keys hold 0.
type spgemmWork[T sparse.Float] struct {
	acc  []T      // bitmap, bytemap: one value per column of C
	bits []uint64 // bitmap: bit j set when column j is in the row
	sum  []uint64 // bitmap: bit w set when bits[w] != 0
	flag []byte   // bytemap: 1 when column j is in the row; len a multiple of 8
	keys []uint32 // hash: column+1, 0 for an empty slot
	hval []T      // hash: the values of keys
	cols []int32  // short rows, symbolic pass
	prod []prod[T]
	// Kept patterns (spgemm_acc.go): pat, the symbolic pass's columns of
	// the current chunk's byte-map rows; kept, the current chunk's list in
	// the numeric pass, and patAt the next row's place in it. Between
	// chunks pat is empty, patAt 0 and listedRow 0.
	pat   []int32
	kept  []int32
	patAt int
	// listedRow is 1 + the row whose columns end pat, 0 if none (the last
	// byte-map row was not kept), and listedAt where they start there
	// (countNext).
	listedRow, listedAt int
}

// prod is a partial product of a short row.
type prod[T sparse.Float] struct {
	col int32
	v   T
}

// prepare sizes w for the plan's accumulators in one pass. Arrays only grow;
// a pooled workspace from a larger product serves as it is.
func (w *spgemmWork[T]) prepare(s *wsSizes, numeric bool) {
	if s.bitmap {
		w.bits = grow(w.bits, (s.denseCols+63)/64)
		if numeric {
			w.sum = grow(w.sum, (s.denseCols+4095)/4096)
		}
	}
	if s.bytemap {
		w.flag = grow(w.flag, (s.denseCols+7)/8*8)
	}
	if numeric && len(w.acc) < s.denseCols {
		w.acc = make([]T, s.denseCols)
		for j := range w.acc {
			w.acc[j] = T(math.Copysign(0, -1))
		}
	}
	if s.hashSlots > 0 {
		w.keys = grow(w.keys, s.hashSlots)
		if numeric {
			w.hval = grow(w.hval, s.hashSlots) // written before read
		}
	}
	if s.short > 0 {
		if numeric {
			w.prod = grow(w.prod, s.short)
		} else {
			w.cols = grow(w.cols, s.short)
		}
	}
}

// grow returns s if it holds n items, else a new zeroed slice of n items.
func grow[E any](s []E, n int) []E {
	if len(s) >= n {
		return s
	}
	return make([]E, n)
}
