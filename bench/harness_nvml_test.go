//go:build cgo

package bench

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/bench/meter"
	"github.com/matmix/matmix/bench/meter/metertest"
)

const (
	idleW = 60.0
	busyW = 300.0
)

// gpuCase is a workload on the simulated GPU: it draws busyW while it runs
// (sleeping d) and idleW otherwise. lostAfter > 0 makes the GPU vanish at
// that run.
func gpuCase(g *metertest.GPU, d time.Duration, lostAfter int64) Case {
	var runs atomic.Int64
	return Case{
		Op: "gpu", Params: []Param{{"d", d.String()}}, Backend: "cuda:0", FLOPs: 1e9, Bytes: 1e6, Compute: "fp32",
		Prepare: func(ctx context.Context, r *rand.Rand) (*Instance, error) {
			return &Instance{Run: func(ctx context.Context) error {
				if n := runs.Add(1); lostAfter > 0 && n >= lostAfter {
					g.Lost.Store(true)
				}
				g.SetWatts(busyW)
				time.Sleep(d)
				g.SetWatts(idleW)
				return nil
			}}, nil
		},
	}
}

func TestHarnessNVMLEnergy(t *testing.T) {
	g := metertest.New(time.Now, idleW, 20*time.Millisecond)
	m := meter.NewNVML(g.Library(), 0, time.Now)
	require.NoError(t, m.Err())
	h, err := New(fastOptions(), m, Ceilings{}, nil)
	require.NoError(t, err)
	require.NoError(t, h.Start(t.Context(), true))

	mi := h.MeterInfo()
	require.True(t, mi.Available)
	require.NotNil(t, mi.UpdatePeriodS)
	assert.InDelta(t, 0.020, *mi.UpdatePeriodS, 0.003, "probed update period")
	require.NotNil(t, mi.MinWindowS)
	assert.GreaterOrEqual(t, *mi.MinWindowS, 10**mi.UpdatePeriodS*(1-1e-12), "windows span >= 10 counter updates")
	require.NotNil(t, mi.IdlePowerW)
	// A window of >= 10 periods quantizes to within a period: <= 10%.
	assert.InDelta(t, idleW, *mi.IdlePowerW, 0.15*idleW)

	// 2 ms runs are a tenth of one counter update: one run alone would read
	// 0 J or a whole period's worth; the window repeats them instead.
	res, err := h.Run(t.Context(), gpuCase(g, 2*time.Millisecond, 0))
	require.NoError(t, err)
	require.NotNil(t, res.EnergyJ, res.EnergyNote)
	assert.Greater(t, res.EnergyRuns, 1)
	assert.GreaterOrEqual(t, res.EnergyWindowS, *mi.MinWindowS)
	perRun := res.EnergyWindowS / float64(res.EnergyRuns)
	// The runs are back to back, so the device is busy nearly all the window.
	require.NotNil(t, res.AvgPowerW)
	assert.InDelta(t, busyW, *res.AvgPowerW, 0.25*busyW)
	assert.InDelta(t, *res.AvgPowerW*perRun, *res.EnergyJ, 1e-9)
	require.NotNil(t, res.EnergyAboveIdleJ)
	assert.InDelta(t, *res.EnergyJ-*mi.IdlePowerW*perRun, *res.EnergyAboveIdleJ, 1e-9)
	assert.Positive(t, *res.EnergyAboveIdleJ)
	require.NotNil(t, res.GFLOPPerJ)
	assert.InDelta(t, 1/(*res.EnergyJ), *res.GFLOPPerJ, 1e-9)
	require.NotNil(t, res.EDP)
	assert.InDelta(t, *res.EnergyJ*res.MedianS, *res.EDP, 1e-12)
	require.NotNil(t, res.Before.ClockMHz)
	require.NotNil(t, res.After.TempC)
	assert.Equal(t, []string{"sw_power_cap", "sw_thermal_slowdown"}, res.After.Throttle)

	samples, err := h.Finish()
	require.NoError(t, err)
	require.NotEmpty(t, samples)
	labels := map[string]bool{}
	for i, s := range samples {
		assert.Equal(t, "instant", s.Source)
		assert.True(t, s.Watts == idleW || s.Watts == busyW, "watts %v", s.Watts)
		if i > 0 {
			assert.GreaterOrEqual(t, s.T, samples[i-1].T)
		}
		labels[s.Label] = true
	}
	assert.True(t, labels["idle"])
	assert.True(t, labels[res.Name])
}

func TestHarnessNVMLCounterNeverMoves(t *testing.T) {
	// An update period of an hour: the counter never moves in the test.
	g := metertest.New(time.Now, idleW, time.Hour)
	m := meter.NewNVML(g.Library(), 0, time.Now)
	o := fastOptions()
	o.MaxEnergyTime = 200 * time.Millisecond
	h, err := New(o, m, Ceilings{}, nil)
	require.NoError(t, err)
	require.NoError(t, h.Start(t.Context(), false))
	mi := h.MeterInfo()
	assert.Nil(t, mi.UpdatePeriodS)
	assert.Nil(t, mi.IdlePowerW)
	assert.Contains(t, mi.Note, "did not move")

	res, err := h.Run(t.Context(), gpuCase(g, time.Millisecond, 0))
	require.NoError(t, err)
	assert.Nil(t, res.EnergyJ, "an unmoved counter is not 0 J")
	assert.Nil(t, res.AvgPowerW)
	assert.Contains(t, res.EnergyNote, "energy counter did not move")
	assert.Positive(t, res.Samples)
}

func TestHarnessNVMLDeviceLostMidRun(t *testing.T) {
	g := metertest.New(time.Now, idleW, 10*time.Millisecond)
	m := meter.NewNVML(g.Library(), 0, time.Now)
	h, err := New(fastOptions(), m, Ceilings{}, nil)
	require.NoError(t, err)
	require.NoError(t, h.Start(t.Context(), true))
	require.NotNil(t, h.MeterInfo().IdlePowerW)

	// The GPU falls off the bus at the 4th run, during sampling.
	res, err := h.Run(t.Context(), gpuCase(g, time.Millisecond, 4))
	require.NoError(t, err, "a meter failure leaves energy null; it does not fail the timing")
	assert.Positive(t, res.Samples)
	assert.Nil(t, res.EnergyJ)
	assert.Contains(t, res.EnergyNote, "ERROR_GPU_IS_LOST")
	assert.NotNil(t, res.Before.ClockMHz)
	assert.Nil(t, res.After.ClockMHz)
	assert.NotEmpty(t, res.After.Errors)

	_, err = h.Finish()
	assert.Error(t, err, "the timeline ends with the device error")
}
