package backend_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool"
	"github.com/matmix/matmix/engine/mempool/mempooltest"
	"github.com/matmix/matmix/engine/sparse"
)

// stub answers every operation with err and counts the calls.
type stub struct {
	name  string
	err   error
	calls *int
	rows  int // the Rows of the products it returns
}

func (s stub) Name() string                                                   { return s.name }
func (s stub) Close() error                                                   { return s.err }
func (s stub) call() error                                                    { *s.calls++; return s.err }
func (s stub) MonarchForward(context.Context, backend.MonarchArgs) error      { return s.call() }
func (s stub) MonarchBackward(context.Context, backend.MonarchGradArgs) error { return s.call() }
func (s stub) GLAForward(context.Context, backend.GLAArgs) error              { return s.call() }
func (s stub) GLADecode(context.Context, backend.GLADecodeArgs) error         { return s.call() }
func (s stub) W4A4GEMM(context.Context, backend.W4A4Args) error               { return s.call() }
func (s stub) SpGEMM32(context.Context, *sparse.CSR[float32], *sparse.CSR[float32], backend.SpGEMMOptions) (*sparse.CSR[float32], error) {
	return &sparse.CSR[float32]{Rows: s.rows}, s.call()
}
func (s stub) SpGEMM64(context.Context, *sparse.CSR[float64], *sparse.CSR[float64], backend.SpGEMMOptions) (*sparse.CSR[float64], error) {
	return &sparse.CSR[float64]{Rows: s.rows}, s.call()
}

// ops calls every operation of b once.
func ops(b backend.Backend) []error {
	ctx := context.Background()
	c32, err32 := b.SpGEMM32(ctx, nil, nil, backend.SpGEMMOptions{})
	c64, err64 := b.SpGEMM64(ctx, nil, nil, backend.SpGEMMOptions{})
	_, _ = c32, c64
	return []error{b.MonarchForward(ctx, backend.MonarchArgs{}), b.MonarchBackward(ctx, backend.MonarchGradArgs{}),
		b.GLAForward(ctx, backend.GLAArgs{}), b.GLADecode(ctx, backend.GLADecodeArgs{}),
		b.W4A4GEMM(ctx, backend.W4A4Args{}), err32, err64}
}

func TestFallback(t *testing.T) {
	other := errs.Shape("op", "bad shape")
	for _, tc := range []struct {
		name                 string
		primary              error
		want                 error
		primaryN, secondaryN int
	}{
		{"primary runs it", nil, nil, 7, 0},
		{"unsupported goes to the secondary", errs.Unsupported("op", "no kernel"), errors.New("secondary ran"), 7, 7},
		{"other errors stay", other, other, 7, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var np, ns int
			secondaryErr := errors.New("secondary ran")
			f := backend.Fallback{Primary: stub{"gpu", tc.primary, &np, 1}, Secondary: stub{"cpu", secondaryErr, &ns, 2}}
			assert.Equal(t, "gpu", f.Name())
			for _, err := range ops(f) {
				if tc.secondaryN > 0 {
					require.Equal(t, secondaryErr, err)
				} else {
					require.Equal(t, tc.want, err)
				}
			}
			assert.Equal(t, tc.primaryN, np)
			assert.Equal(t, tc.secondaryN, ns)
		})
	}
	// The secondary's product is the one returned.
	var np, ns int
	f := backend.Fallback{Primary: stub{"gpu", errs.Unsupported("op", "no"), &np, 1}, Secondary: stub{"cpu", nil, &ns, 2}}
	c64, err := f.SpGEMM64(context.Background(), nil, nil, backend.SpGEMMOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, c64.Rows, "the secondary's product")
	c32, err := f.SpGEMM32(context.Background(), nil, nil, backend.SpGEMMOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, c32.Rows, "the secondary's product")
	assert.Equal(t, 2, ns)
	closeErr := errors.New("close failed")
	err = backend.Fallback{Primary: stub{"gpu", nil, &np, 1}, Secondary: stub{"cpu", closeErr, &ns, 2}}.Close()
	require.ErrorIs(t, err, closeErr, "Close closes both")
}

// pooledStub is a stub with a pool.
type pooledStub struct {
	stub
	pool backend.Pool
}

func (p pooledStub) Pool() backend.Pool { return p.pool }

func TestFallbackPool(t *testing.T) {
	var n int
	assert.Nil(t, backend.Fallback{Primary: stub{"gpu", nil, &n, 1}, Secondary: stub{"cpu", nil, &n, 2}}.Pool(),
		"a primary without a pool")
	pool, err := mempool.New[uint64](&mempooltest.Allocator{}, mempool.Options{})
	require.NoError(t, err)
	want := marked{pool}
	got := backend.Fallback{Primary: pooledStub{stub{"gpu", nil, &n, 1}, want}, Secondary: stub{"cpu", nil, &n, 2}}.Pool()
	assert.Equal(t, backend.Pool(want), got, "the primary's pool")
}

// marked is a mempool.Pool marked as a backend's own.
type marked struct{ *mempool.Pool[uint64] }

func (marked) BackendAllocates() {}
