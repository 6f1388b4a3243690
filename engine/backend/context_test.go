package backend_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
)

func TestStreamContext(t *testing.T) {
	_, ok := backend.StreamFrom(context.Background())
	assert.False(t, ok, "no index unless set")
	ctx := backend.WithStream(context.Background(), 3)
	idx, ok := backend.StreamFrom(ctx)
	require.True(t, ok)
	assert.Equal(t, 3, idx)
	idx, _ = backend.StreamFrom(backend.WithStream(ctx, 0))
	assert.Equal(t, 0, idx, "an inner index wins, 0 included")
}

// TestTiming: concurrent adds sum up (under -race), and a context without
// a Timing gives a nil one whose methods do nothing.
func TestTiming(t *testing.T) {
	assert.Nil(t, backend.TimingFrom(context.Background()))
	var none *backend.Timing
	none.Add(backend.DeviceTime{Calls: 1})
	assert.Zero(t, none.Total())

	var tm backend.Timing
	ctx := backend.WithTiming(context.Background(), &tm)
	require.Same(t, &tm, backend.TimingFrom(ctx))
	one := backend.DeviceTime{Span: 5 * time.Microsecond, Kernels: 3 * time.Microsecond, Copies: time.Microsecond, CopyBytes: 64, Calls: 1}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				backend.TimingFrom(ctx).Add(one)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, backend.DeviceTime{Span: 400 * time.Microsecond, Kernels: 240 * time.Microsecond,
		Copies: 80 * time.Microsecond, CopyBytes: 5120, Calls: 80}, tm.Total())
}
