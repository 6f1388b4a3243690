package mempool_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool"
	"github.com/matmix/matmix/engine/mempool/mempooltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newPool(t *testing.T, dev *mempooltest.Allocator, opts mempool.Options) *mempool.Pool[uint64] {
	t.Helper()
	p, err := mempool.New[uint64](dev, opts)
	require.NoError(t, err)
	return p
}

func TestRoundSize(t *testing.T) {
	for _, c := range []struct{ in, want int }{
		{0, 512}, {1, 512}, {512, 512}, {513, 1024}, {1<<20 - 1, 1 << 20},
		{1 << 20, 2 << 20}, {2<<20 + 1, 4 << 20}, {5 << 20, 6 << 20},
	} {
		got, err := mempool.RoundSize(c.in)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "RoundSize(%d)", c.in)
	}
	_, err := mempool.RoundSize(-1)
	require.ErrorIs(t, err, errs.ErrArgument)
	_, err = mempool.RoundSize(int(^uint(0) >> 1))
	require.ErrorIs(t, err, errs.ErrLimit)
}

func TestReuseAndStats(t *testing.T) {
	dev := &mempooltest.Allocator{}
	p := newPool(t, dev, mempool.Options{})
	a, err := p.Alloc(1000, 0)
	require.NoError(t, err)
	b, err := p.Alloc(3<<20, 0)
	require.NoError(t, err)
	require.NotEqual(t, a, b)
	st := p.Stats()
	assert.Equal(t, int64(1024+4<<20), st.InUse)
	assert.Equal(t, int64(2), st.Misses)

	require.NoError(t, p.Free(a, 0))
	require.NoError(t, p.Free(b, 0))
	// 900 bytes is the same class as 1000: the freed block comes back.
	c, err := p.Alloc(900, 0)
	require.NoError(t, err)
	assert.Equal(t, a, c)
	d, err := p.Alloc(4<<20, 0)
	require.NoError(t, err)
	assert.Equal(t, b, d)

	st = p.Stats()
	assert.Equal(t, mempool.Stats{
		InUse: 1024 + 4<<20, Cached: 0, Peak: 1024 + 4<<20, PeakReserved: 1024 + 4<<20,
		Allocs: 4, Frees: 2, Hits: 2, Misses: 2, DeviceAllocs: 2,
	}, st)
	assert.InDelta(t, 0.5, st.HitRate(), 1e-12)
	assert.Equal(t, 2, dev.Calls())

	require.NoError(t, p.Free(c, 0))
	require.NoError(t, p.Free(d, 0))
	assert.Equal(t, int64(1024+4<<20), p.Stats().Cached)
	require.NoError(t, p.EmptyCache())
	st = p.Stats()
	assert.Zero(t, st.InUse)
	assert.Zero(t, st.Cached)
	assert.Equal(t, int64(2), st.DeviceFrees)
	assert.Zero(t, dev.Live())
}

func TestFreeErrors(t *testing.T) {
	p := newPool(t, &mempooltest.Allocator{}, mempool.Options{})
	a, err := p.Alloc(10, 0)
	require.NoError(t, err)
	require.NoError(t, p.Free(a, 0))
	require.ErrorIs(t, p.Free(a, 0), errs.ErrArgument, "double free")
	require.ErrorIs(t, p.Free(12345, 0), errs.ErrArgument, "foreign pointer")
	_, err = mempool.New[uint64](nil, mempool.Options{})
	require.ErrorIs(t, err, errs.ErrArgument)
	_, err = mempool.New[uint64](&mempooltest.Allocator{}, mempool.Options{Limit: -1})
	require.ErrorIs(t, err, errs.ErrArgument)
}

// A block freed on one stream is reused on that stream at once, and on
// another only after that stream is synchronised.
func TestStreamAwareFrees(t *testing.T) {
	t.Run("no sync: blocks stay on their stream", func(t *testing.T) {
		p := newPool(t, &mempooltest.Allocator{}, mempool.Options{})
		a, err := p.Alloc(100, 1)
		require.NoError(t, err)
		require.NoError(t, p.Free(a, 1))
		b, err := p.Alloc(100, 2)
		require.NoError(t, err)
		assert.NotEqual(t, a, b, "stream 2 must not get stream 1's block without a sync")
		c, err := p.Alloc(100, 1)
		require.NoError(t, err)
		assert.Equal(t, a, c)
		assert.Equal(t, int64(1), p.Stats().Hits)
	})
	t.Run("sync: cross-stream reuse waits for the stream", func(t *testing.T) {
		var synced []mempool.Stream
		p := newPool(t, &mempooltest.Allocator{}, mempool.Options{Sync: func(s mempool.Stream) error {
			synced = append(synced, s)
			return nil
		}})
		a, err := p.Alloc(100, 1)
		require.NoError(t, err)
		require.NoError(t, p.Free(a, 1))
		b, err := p.Alloc(100, 1)
		require.NoError(t, err)
		assert.Equal(t, a, b)
		assert.Empty(t, synced, "same-stream reuse needs no sync")
		require.NoError(t, p.Free(b, 1))
		c, err := p.Alloc(100, 2)
		require.NoError(t, err)
		assert.Equal(t, a, c)
		assert.Equal(t, []mempool.Stream{1}, synced)
		st := p.Stats()
		assert.Equal(t, int64(2), st.Hits)
		assert.Equal(t, int64(1), st.CrossStream)
	})
	t.Run("failed sync keeps the block cached", func(t *testing.T) {
		boom := errors.New("stream broken")
		p := newPool(t, &mempooltest.Allocator{}, mempool.Options{Sync: func(mempool.Stream) error { return boom }})
		a, err := p.Alloc(100, 1)
		require.NoError(t, err)
		require.NoError(t, p.Free(a, 1))
		_, err = p.Alloc(100, 2)
		require.ErrorIs(t, err, errs.ErrDevice)
		require.ErrorIs(t, err, boom)
		st := p.Stats()
		assert.Zero(t, st.InUse)
		assert.Equal(t, int64(512), st.Cached)
		require.NoError(t, p.EmptyCache())
	})
}

// Out of memory: the pool frees its cache and retries once; a second
// failure reaches the caller as ErrDevice and nothing leaks.
func TestOutOfMemoryRetry(t *testing.T) {
	dev := &mempooltest.Allocator{Capacity: 4096}
	p := newPool(t, dev, mempool.Options{})
	a, err := p.Alloc(2048, 0)
	require.NoError(t, err)
	require.NoError(t, p.Free(a, 0))
	b, err := p.Alloc(2048, 0) // a hit
	require.NoError(t, err)
	small, err := p.Alloc(1024, 0)
	require.NoError(t, err)
	require.NoError(t, p.Free(small, 0)) // 1024 cached, 3072 of 4096 used on the device
	c, err := p.Alloc(2000, 0)           // class 2048: does not fit until the cache is freed
	require.NoError(t, err)
	st := p.Stats()
	assert.Equal(t, int64(1), st.Retries)
	assert.Zero(t, st.Cached)
	assert.Equal(t, int64(4096), st.InUse)

	_, err = p.Alloc(1, 0) // nothing left to free: an error, not a crash
	require.ErrorIs(t, err, errs.ErrDevice)
	require.ErrorIs(t, err, mempooltest.ErrOutOfMemory)
	assert.Equal(t, int64(1), p.Stats().Failures)

	require.NoError(t, p.Free(b, 0))
	require.NoError(t, p.Free(c, 0))
	require.NoError(t, p.EmptyCache())
	assert.Zero(t, p.Stats().InUse)
	assert.Zero(t, dev.Live())
}

// Fault injection: the device fails at its Nth call and from then on.
func TestFaultAtNthCall(t *testing.T) {
	for n := 1; n <= 4; n++ {
		dev := &mempooltest.Allocator{Fail: mempooltest.FailAt(n)}
		p := newPool(t, dev, mempool.Options{})
		var got []uint64
		var err error
		for i := 0; i < 5 && err == nil; i++ {
			var b uint64
			b, err = p.Alloc(1000*(i+1), 0) // distinct classes: every call a miss
			if err == nil {
				got = append(got, b)
			}
		}
		require.ErrorIs(t, err, errs.ErrDevice, "n=%d", n)
		assert.Len(t, got, n-1)
		for _, b := range got {
			require.NoError(t, p.Free(b, 0))
		}
		require.NoError(t, p.EmptyCache())
		assert.Zero(t, p.Stats().InUse)
		assert.Zero(t, dev.Live(), "n=%d", n)
	}
	// A single failure is absorbed by the retry.
	dev := &mempooltest.Allocator{Fail: mempooltest.FailOnce(1)}
	p := newPool(t, dev, mempool.Options{})
	b, err := p.Alloc(10, 0)
	require.NoError(t, err)
	require.NoError(t, p.Free(b, 0))
	assert.Equal(t, int64(1), p.Stats().Retries)
}

func TestLimit(t *testing.T) {
	dev := &mempooltest.Allocator{}
	p := newPool(t, dev, mempool.Options{Limit: 4096})
	a, err := p.Alloc(3000, 0)
	require.NoError(t, err)
	b, err := p.Alloc(512, 0)
	require.NoError(t, err)
	require.NoError(t, p.Free(b, 0))
	// 3072 in use + 512 cached + 1024 > 4096: the cache goes, then it fits.
	c, err := p.Alloc(1000, 0)
	require.NoError(t, err)
	assert.Zero(t, p.Stats().Cached)
	_, err = p.Alloc(1, 0)
	require.ErrorIs(t, err, errs.ErrLimit)
	require.NoError(t, p.Free(a, 0))
	require.NoError(t, p.Free(c, 0))
	require.NoError(t, p.EmptyCache())
	assert.Zero(t, dev.Live())
	assert.LessOrEqual(t, p.Stats().PeakReserved, int64(4096))
}

// Many goroutines allocating and freeing: the counters stay consistent
// (run under -race).
func TestConcurrent(t *testing.T) {
	dev := &mempooltest.Allocator{}
	p := newPool(t, dev, mempool.Options{Sync: mempool.NoSync})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				b, err := p.Alloc(512*(1+(g+i)%4), mempool.Stream(g%3))
				if !assert.NoError(t, err) {
					return
				}
				assert.NoError(t, p.Free(b, mempool.Stream(g%3)))
			}
		})
	}
	wg.Wait()
	st := p.Stats()
	assert.Equal(t, int64(16*200), st.Allocs)
	assert.Equal(t, st.Allocs, st.Hits+st.Misses)
	assert.Zero(t, st.InUse)
	assert.Equal(t, st.DeviceAllocs, int64(dev.Live()))
	assert.Greater(t, st.HitRate(), 0.9)
	require.NoError(t, p.EmptyCache())
	assert.Zero(t, dev.Live())
}

// Reserve is all or none: a failure part-way frees what it got.
func TestReserve(t *testing.T) {
	dev := &mempooltest.Allocator{Fail: mempooltest.FailAt(3)}
	p := newPool(t, dev, mempool.Options{})
	_, err := p.Reserve([]int{100, 2000, 30000, 400000}, 7)
	require.ErrorIs(t, err, errs.ErrDevice)
	st := p.Stats()
	assert.Zero(t, st.InUse)
	assert.Equal(t, int64(512+2048), st.Cached, "the two blocks made went back to the cache")
	release, err := p.Reserve([]int{100, 2000}, 7)
	require.NoError(t, err)
	assert.Equal(t, int64(512+2048), p.Stats().InUse)
	require.NoError(t, release(7))
	st = p.Stats()
	assert.Zero(t, st.InUse)
	assert.Equal(t, int64(2), st.Hits)
	require.NoError(t, p.EmptyCache())
	assert.Zero(t, dev.Live())
}
