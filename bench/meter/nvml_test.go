//go:build cgo

package meter

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/bench/meter/metertest"
	"github.com/matmix/matmix/engine/errs"
)

type mockGPU struct {
	*metertest.GPU
	clock *fakeClock
	watts float64
}

func newMockGPU(r *rand.Rand, period time.Duration) *mockGPU {
	c := newFakeClock()
	w := 100 + 600*r.Float64()
	return &mockGPU{GPU: metertest.New(c.Now, w, period), clock: c, watts: w}
}

func (g *mockGPU) library() *mock.Interface { return g.Library() }

func TestNVMLWindowIntegratesCounter(t *testing.T) {
	g := newMockGPU(testRand(t), 20*time.Millisecond)
	m := NewNVML(g.library(), 0, g.clock.Now)
	require.NoError(t, m.Err())
	defer func() { require.NoError(t, m.Close()) }()
	assert.Equal(t, "nvml:0", m.Name())
	assert.Equal(t, "NVIDIA H100 80GB HBM3", m.DeviceName())

	w, err := m.Start()
	require.NoError(t, err)
	g.clock.Advance(time.Second)
	e, err := w.Stop()
	require.NoError(t, err)
	assert.True(t, e.Moved)
	assert.Equal(t, time.Second, e.Duration)
	// One second is 50 whole counter periods: the window sees all of it
	// (to the counter's 1 mJ step).
	assert.InDelta(t, g.watts, e.Joules, 2e-3)
	assert.InDelta(t, g.watts, e.Watts(), 2e-3)
}

func TestNVMLShortWindowDoesNotMove(t *testing.T) {
	g := newMockGPU(testRand(t), 100*time.Millisecond)
	g.clock.Advance(10 * time.Millisecond)
	m := NewNVML(g.library(), 0, g.clock.Now)
	require.NoError(t, m.Err())
	w, err := m.Start()
	require.NoError(t, err)
	g.clock.Advance(5 * time.Millisecond) // well inside one update period
	e, err := w.Stop()
	require.NoError(t, err)
	assert.False(t, e.Moved, "a window inside one counter period must say it measured nothing")
	assert.Zero(t, e.Joules)
	assert.Equal(t, 5*time.Millisecond, e.Duration)
}

func TestNVMLDeviceLostMidRun(t *testing.T) {
	g := newMockGPU(testRand(t), 20*time.Millisecond)
	m := NewNVML(g.library(), 0, g.clock.Now)
	require.NoError(t, m.Err())
	w, err := m.Start()
	require.NoError(t, err)
	g.clock.Advance(300 * time.Millisecond)
	g.Lost.Store(true)

	_, err = w.Stop()
	require.Error(t, err)
	assert.ErrorIs(t, err, errs.ErrDevice)
	assert.ErrorIs(t, err, nvml.ERROR_GPU_IS_LOST)
	assert.Contains(t, err.Error(), "nvml")

	_, err = m.Start()
	assert.ErrorIs(t, err, errs.ErrDevice)
	_, err = m.Power()
	assert.ErrorIs(t, err, nvml.ERROR_GPU_IS_LOST)

	s := m.State()
	assert.Nil(t, s.ClockMHz)
	assert.Nil(t, s.TempC)
	assert.Len(t, s.Errors, 5)

	// A timeline running when the device goes away ends with the error.
	g.Lost.Store(false)
	smp := StartSampler(m, time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	g.Lost.Store(true)
	time.Sleep(5 * time.Millisecond)
	samples, err := smp.Stop()
	assert.ErrorIs(t, err, nvml.ERROR_GPU_IS_LOST)
	assert.NotEmpty(t, samples)
}

func TestNVMLInstantPowerUsesFieldValues(t *testing.T) {
	g := newMockGPU(testRand(t), 20*time.Millisecond)
	lib := g.library()
	m := NewNVML(lib, 0, g.clock.Now)
	require.NoError(t, m.Err())
	p, err := m.Power()
	require.NoError(t, err)
	// The mock reports whole milliwatts.
	assert.InDelta(t, g.watts, p, 1e-3)
}

func TestNVMLState(t *testing.T) {
	g := newMockGPU(testRand(t), 20*time.Millisecond)
	m := NewNVML(g.library(), 0, g.clock.Now)
	require.NoError(t, m.Err())
	s := m.State()
	require.NotNil(t, s.ClockMHz)
	require.NotNil(t, s.MemClockMHz)
	require.NotNil(t, s.TempC)
	require.NotNil(t, s.PowerLimitW)
	assert.Equal(t, 1980.0, *s.ClockMHz)
	assert.Equal(t, 2619.0, *s.MemClockMHz)
	assert.Equal(t, 41.0, *s.TempC)
	assert.Equal(t, 700.0, *s.PowerLimitW)
	assert.Equal(t, []string{"sw_power_cap", "sw_thermal_slowdown"}, s.Throttle)
	assert.Empty(t, s.Errors)
}

func TestNVMLUnavailable(t *testing.T) {
	r := testRand(t)
	t.Run("no library", func(t *testing.T) {
		lib := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}
		m := NewNVML(lib, 0, time.Now)
		require.Error(t, m.Err())
		assert.ErrorIs(t, m.Err(), errs.ErrDevice)
		assert.Contains(t, m.Err().Error(), "libnvidia-ml.so.1 not found")
		_, err := m.Start()
		assert.ErrorIs(t, err, errs.ErrDevice)
		assert.NotEmpty(t, m.State().Errors)
		require.NoError(t, m.Close()) // Init failed: no Shutdown (nil in the mock)
	})
	t.Run("index out of range", func(t *testing.T) {
		g := newMockGPU(r, 20*time.Millisecond)
		m := NewNVML(g.library(), 3, g.clock.Now)
		require.Error(t, m.Err())
		assert.Contains(t, m.Err().Error(), "gpu 3 not found (1 gpus)")
		require.NoError(t, m.Close())
	})
	t.Run("no energy counter", func(t *testing.T) {
		g := newMockGPU(r, 20*time.Millisecond)
		lib := g.library()
		dev, _ := lib.DeviceGetHandleByIndex(0)
		dev.(*mock.Device).GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
		m := NewNVML(lib, 0, g.clock.Now)
		require.Error(t, m.Err())
		assert.ErrorIs(t, m.Err(), nvml.ERROR_NOT_SUPPORTED)
		assert.Contains(t, m.Err().Error(), "volta or later")
	})
}

func TestListGPUsWith(t *testing.T) {
	g := newMockGPU(testRand(t), 20*time.Millisecond)
	l := ListGPUsWith(g.library())
	require.NoError(t, l.Err)
	assert.Equal(t, "570.86.15", l.Driver)
	require.Len(t, l.GPUs, 1)
	gpu := l.GPUs[0]
	assert.Equal(t, "9.0", gpu.ComputeCapability)
	assert.Equal(t, uint64(80<<30), gpu.MemoryBytes)
	require.NotNil(t, gpu.PowerLimitW)
	assert.Equal(t, 700.0, *gpu.PowerLimitW)
	assert.True(t, gpu.EnergyCounter)
	assert.Equal(t, "ok", gpu.Status)

	lib := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_DRIVER_NOT_LOADED }}
	l = ListGPUsWith(lib)
	require.Error(t, l.Err)
	assert.True(t, errors.Is(l.Err, errs.ErrDevice))
}

func TestProbePeriod(t *testing.T) {
	g := newMockGPU(testRand(t), 25*time.Millisecond)
	g.clock.step = time.Millisecond // every read moves the clock 1 ms
	m := NewNVML(g.library(), 0, g.clock.Now)
	require.NoError(t, m.Err())
	p, err := ProbePeriod(t.Context(), m, 2*time.Second)
	require.NoError(t, err)
	// Every read moves the clock twice (the mock and the meter), so a change
	// is seen up to 2 ms late.
	assert.InDelta(t, float64(25*time.Millisecond), float64(p), float64(2*time.Millisecond))

	// A counter that never moves has no known period.
	g2 := newMockGPU(testRand(t), time.Hour)
	g2.clock.step = time.Millisecond
	m2 := NewNVML(g2.library(), 0, g2.clock.Now)
	p, err = ProbePeriod(t.Context(), m2, 200*time.Millisecond)
	require.NoError(t, err)
	assert.Zero(t, p)
}
