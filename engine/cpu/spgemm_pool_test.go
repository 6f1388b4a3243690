package cpu

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/sparse"
)

// requirePoolClean takes every workspace out of pool and checks that each
// is empty, as the next product expects: values -0, bitmaps, byte map and
// hash keys 0.
func requirePoolClean[T sparse.Float](t *testing.T, pool *spgemmPool) {
	t.Helper()
	for {
		w, ok := pool.of(isFloat32[T]()).Get().(*spgemmWork[T])
		if !ok {
			return
		}
		for j, v := range w.acc {
			require.True(t, v == 0 && math.Signbit(float64(v)), "acc[%d] = %v", j, v)
		}
		for _, s := range [][]uint64{w.bits, w.sum} {
			for _, x := range s {
				require.Zero(t, x)
			}
		}
		for _, x := range w.flag {
			require.Zero(t, x)
		}
		for _, x := range w.keys {
			require.Zero(t, x)
		}
	}
}

// Products of different shapes, kinds and precisions share one pool from
// several goroutines at once (go test -race), each giving what it gives
// with a pool of its own, and leave the pool clean, cancelled ones too.
func TestSpGEMMPoolShared(t *testing.T) {
	b := New(2)
	mats := []*sparse.CSR[float64]{
		sparse.ErdosRenyi(600, 4, 1),  // bitmap and short rows
		sparse.ErdosRenyi(5000, 2, 2), // copies, short rows, bitmaps of two summary words
		sparse.RMAT(9, 8, 3),          // byte maps and bitmaps
	}
	type job struct {
		name string
		run  func(pool *spgemmPool) (any, error)
	}
	var jobs []job
	for m, a := range mats {
		for _, tune := range []spgemmTuning{{}, {force: kindHash}, {onePassWork: 1}} {
			jobs = append(jobs, job{fmt.Sprintf("%d/%v/float64", m, tune), func(pool *spgemmPool) (any, error) {
				return spgemm(context.Background(), b, pool, a, a, backend.SpGEMMOptions{}, tune)
			}})
			a32 := sparse.Convert[float32](a)
			jobs = append(jobs, job{fmt.Sprintf("%d/%v/float32", m, tune), func(pool *spgemmPool) (any, error) {
				return spgemm(context.Background(), b, pool, a32, a32, backend.SpGEMMOptions{}, tune)
			}})
		}
	}
	want := make([]any, len(jobs))
	for j, jb := range jobs {
		var err error
		want[j], err = jb.run(new(spgemmPool))
		require.NoError(t, err, jb.name)
	}
	shared := new(spgemmPool)
	var wg sync.WaitGroup
	got := make([]any, 2*len(jobs))
	errs := make([]error, 2*len(jobs))
	for g := range 2 * len(jobs) {
		wg.Go(func() { got[g], errs[g] = jobs[g%len(jobs)].run(shared) })
	}
	wg.Wait()
	for g := range got {
		require.NoError(t, errs[g])
		require.Equal(t, want[g%len(jobs)], got[g], jobs[g%len(jobs)].name)
	}
	requirePoolClean[float64](t, shared)
	requirePoolClean[float32](t, shared)

	// A product cancelled between chunks puts its workspaces back clean.
	ctx, cancel := context.WithCancel(context.Background())
	a := mats[2]
	var n atomic.Int32
	_, err := spgemm(ctx, b, shared, a, a, backend.SpGEMMOptions{}, spgemmTuning{})
	require.NoError(t, err)
	p := newPlan(a, a, 0, 2)
	rowPtr := make([]int64, a.Rows+1)
	require.NoError(t, p.classify(ctx, b, a, a, rowPtr))
	p.schedule(rowPtr)
	err = p.run(ctx, b, shared, a, a, true, func(w *spgemmWork[float64], _, i int) {
		if n.Add(1) == 3 {
			cancel()
		}
		// a row filled as the numeric pass would, into scratch
		cols, vals := make([]int32, a.Cols), make([]float64, a.Cols)
		w.fill(p, a, a, i, cols, vals)
	}, nil)
	require.ErrorIs(t, err, context.Canceled)
	requirePoolClean[float64](t, shared)
}
