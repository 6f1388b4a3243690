//go:build cudasim

package backend_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/sim"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The backend's runtime on the simulator: streams, the caching pool, the
// pinned staging buffers, device-event timing, and every error path under
// the simulator's fault injection.

// closeChecked is the simulator recording what is still held when the
// backend closes it, after the backend freed its own resources.
type closeChecked struct {
	*sim.Device
	atClose *sim.Resources
}

func (d closeChecked) Close() error {
	*d.atClose = d.Device.Live()
	return d.Device.Close()
}

// openRuntime opens a backend on a fresh simulator and, when the test
// ends, closes it and checks that it left nothing on the device.
func openRuntime(t *testing.T) (*cudabackend.Backend, *sim.Device) {
	d, err := sim.Open()
	require.NoError(t, err)
	var atClose sim.Resources
	b, err := cudabackend.NewWith(closeChecked{d, &atClose}, cudabackend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, b.Close())
		assert.Equal(t, sim.Resources{}, atClose, "held by the backend when it closed the device")
	})
	return b, d
}

// runtimeDims is a Monarch small enough for many runs, on the two-pass
// path (two kernels, an intermediate buffer) when forced.
var runtimeDims = ref.MonarchDims{Batch: 9, K: 2, Q: 4, P: 3, L: 4, S: 3, R: 2}

// monarchRun is one forward's operands and its reference result.
type monarchRun struct {
	args backend.MonarchArgs
	want []float64
}

func newMonarchRun(t *testing.T, d ref.MonarchDims) monarchRun {
	in := newMonarchInputs(t, d, tensor.Float32)
	want := make([]float64, d.Batch*d.M())
	ref.MonarchForward(d, in.xv, in.w1v, in.w2v, want)
	return monarchRun{args: backend.MonarchArgs{X: in.x, W1: in.w1, W2: in.w2, Y: poisoned(t, tensor.Float32, d.Batch, d.M())}, want: want}
}

// run computes y (poisoned first) and checks it.
func (m monarchRun) run(t *testing.T, ctx context.Context, b *cudabackend.Backend) {
	t.Helper()
	m.args.Y.FillNaN()
	require.NoError(t, b.MonarchForwardWith(ctx, m.args, cudabackend.MonarchOptions{Path: cudabackend.MonarchTwoPass}))
	requireClose(t, "y", m.args.Y, m.want, arithF32.tol)
}

// TestRuntimeStreams: a stream index keeps one device stream; calls
// without one take free streams, concurrently, with correct results; the
// pool and the staging buffers are reused and nothing stays in use.
func TestRuntimeStreams(t *testing.T) {
	b, _ := openRuntime(t)
	m := newMonarchRun(t, runtimeDims)
	ctx0 := backend.WithStream(t.Context(), 0)
	m.run(t, ctx0, b)
	first := b.Memory().Stats()
	st := b.Staging()
	assert.Equal(t, int64(1), st.HostAllocs, "the first call allocates its stream's staging buffer")
	for range 4 {
		m.run(t, ctx0, b)
	}
	assert.Equal(t, 1, b.Streams(), "one stream index, one device stream")
	assert.Equal(t, cudabackend.StagingStats{HostAllocs: 1, Reuses: 4, Bytes: st.Bytes}, b.Staging(), "later calls reuse the staging buffer")
	mem := b.Memory().Stats()
	assert.Equal(t, first.DeviceAllocs, mem.DeviceAllocs, "later calls allocate nothing from the device")
	assert.Equal(t, first.Allocs*5, mem.Allocs)
	assert.Equal(t, first.Allocs*4, mem.Hits)

	m.run(t, backend.WithStream(t.Context(), 1), b)
	assert.Equal(t, 2, b.Streams())
	assert.Positive(t, b.Memory().Stats().CrossStream, "stream 1 reused stream 0's blocks after a sync")

	const goroutines, each = 8, 4
	runs := make([]monarchRun, goroutines)
	for g := range runs {
		runs[g] = newMonarchRun(t, runtimeDims)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				runs[g].run(t, t.Context(), b)
			}
		})
	}
	wg.Wait()
	n := b.Streams()
	assert.True(t, n >= 3 && n <= 2+goroutines, "%d streams: the indexed two and at most one per concurrent caller", n)
	mem = b.Memory().Stats()
	assert.Zero(t, mem.InUse)
	assert.Greater(t, mem.HitRate(), 0.5)
	assert.LessOrEqual(t, b.Staging().HostAllocs, int64(n), "one staging buffer per stream at these sizes")
}

// TestRuntimeTiming: with a Timing in the context the call records events
// around its kernels and copies: their device times, the span that holds
// them and the bytes copied; without one it creates no events.
func TestRuntimeTiming(t *testing.T) {
	b, d := openRuntime(t)
	m := newMonarchRun(t, runtimeDims)
	m.run(t, t.Context(), b)
	assert.Zero(t, d.Live().Events, "no timing asked, no events")

	var tm backend.Timing
	ctx := backend.WithTiming(t.Context(), &tm)
	m.run(t, ctx, b)
	got := tm.Total()
	assert.Equal(t, 1, got.Calls)
	assert.Positive(t, got.Kernels)
	assert.Positive(t, got.Copies)
	assert.GreaterOrEqual(t, got.Span, got.Kernels+got.Copies, "the span holds the kernels and copies, one after the other on the stream")
	d32 := runtimeDims
	wantBytes := 4 * (d32.Batch*d32.N() + d32.K*d32.Q*d32.P + d32.L*d32.S*d32.R + d32.Batch*d32.M())
	assert.Equal(t, int64(wantBytes), got.CopyBytes, "x, w1, w2 in, y out")

	m.run(t, ctx, b)
	assert.Equal(t, 2, tm.Total().Calls, "calls add up")
	assert.Equal(t, 2*got.CopyBytes, tm.Total().CopyBytes)
}

// TestRuntimeFaults fails each device call of a forward in turn (every
// allocation, launch, copy and pinned allocation of a cold call): the
// error reaches the caller as the injected device fault, the pool holds
// nothing in use, and once the faults stop the same backend computes the
// right result (no state was corrupted). At Close nothing is left on the
// device (openRuntime).
func TestRuntimeFaults(t *testing.T) {
	m := newMonarchRun(t, runtimeDims)
	clean, d := openRuntime(t)
	d.InjectFaults(sim.Faults{}) // restart the counts
	m.run(t, backend.WithTiming(t.Context(), &backend.Timing{}), clean)
	calls := d.Calls()
	require.Positive(t, calls.Alloc)
	require.Equal(t, int64(2), calls.Launch, "two-pass: two launches")
	require.Equal(t, int64(4), calls.Copy, "three uploads, one download")
	require.Equal(t, int64(1), calls.HostAlloc)

	for kind, n := range map[string]int64{"alloc": calls.Alloc, "launch": calls.Launch, "copy": calls.Copy, "host alloc": calls.HostAlloc} {
		for i := int64(1); i <= n; i++ {
			t.Run(fmt.Sprintf("%s %d of %d", kind, i, n), func(t *testing.T) {
				b, d := openRuntime(t)
				f := map[string]sim.Faults{
					"alloc": {Alloc: i, Persist: true}, "launch": {Launch: i}, "copy": {Copy: i}, "host alloc": {HostAlloc: i},
				}[kind]
				d.InjectFaults(f)
				m.args.Y.FillNaN()
				err := b.MonarchForwardWith(backend.WithTiming(t.Context(), &backend.Timing{}), m.args,
					cudabackend.MonarchOptions{Path: cudabackend.MonarchTwoPass})
				require.ErrorIs(t, err, errs.ErrDevice)
				require.ErrorIs(t, err, sim.ErrInjected)
				assert.Zero(t, b.Memory().Stats().InUse)
				d.InjectFaults(sim.Faults{})
				m.run(t, t.Context(), b)
				assert.Zero(t, b.Memory().Stats().InUse)
			})
		}
	}

	t.Run("alloc once: the pool retries", func(t *testing.T) {
		b, d := openRuntime(t)
		d.InjectFaults(sim.Faults{Alloc: 1})
		m.run(t, t.Context(), b)
		st := b.Memory().Stats()
		assert.Equal(t, int64(1), st.Retries)
		assert.Zero(t, st.Failures)
	})
}

// TestRuntimeMemoryOption: a pool given in Options is the one the backend
// allocates from (and empties at Close), and a limit on the backend's own
// pool is an ErrLimit.
func TestRuntimeMemoryOption(t *testing.T) {
	m := newMonarchRun(t, runtimeDims)
	d, err := sim.Open()
	require.NoError(t, err)
	pool, err := mempool.New[device.Ptr](d, mempool.Options{Sync: func(s mempool.Stream) error { return d.Sync(device.Stream(s)) }})
	require.NoError(t, err)
	var atClose sim.Resources
	b, err := cudabackend.NewWith(closeChecked{d, &atClose}, cudabackend.Options{Memory: pool})
	require.NoError(t, err)
	m.run(t, t.Context(), b)
	assert.Same(t, pool, b.Memory().Pool)
	assert.Positive(t, pool.Stats().Allocs, "the given pool served the call")
	assert.Positive(t, pool.Stats().Cached)
	require.NoError(t, b.Close())
	assert.Equal(t, sim.Resources{}, atClose)
	assert.Zero(t, pool.Stats().Cached, "Close empties the pool's cache")

	d2, err := sim.Open()
	require.NoError(t, err)
	limited, err := cudabackend.NewWith(d2, cudabackend.Options{MemoryLimit: 1024})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, limited.Close()) })
	err = limited.MonarchForward(t.Context(), m.args)
	require.ErrorIs(t, err, errs.ErrLimit)
	assert.Zero(t, limited.Memory().Stats().InUse)

	_, err = cudabackend.NewWith(nil, cudabackend.Options{})
	assert.ErrorIs(t, err, errs.ErrArgument)
}
