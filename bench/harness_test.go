package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/bench/meter"
	"github.com/matmix/matmix/engine/errs"
)

// fastOptions keep harness tests short.
func fastOptions() Options {
	o := QuickOptions()
	o.MinSamples = 5
	o.MinTime = 10 * time.Millisecond
	o.MaxTime = 300 * time.Millisecond
	o.MaxNoise = 0.5
	o.MinEnergyWindow = 50 * time.Millisecond
	o.MaxEnergyTime = 400 * time.Millisecond
	o.IdleTime = 100 * time.Millisecond
	o.Seed = 1
	return o
}

// synthCase is a workload that sleeps for d per run and counts its runs.
func synthCase(d time.Duration, runs *atomic.Int64, check Check) Case {
	return Case{
		Op: "synth", Params: []Param{{"d", d.String()}, {"n", 3}}, Backend: "test",
		FLOPs: 1e6, Bytes: 1e5, Compute: "fp32",
		Prepare: func(ctx context.Context, r *rand.Rand) (*Instance, error) {
			return &Instance{
				Run: func(ctx context.Context) error {
					runs.Add(1)
					time.Sleep(d)
					return nil
				},
				Check: func(ctx context.Context) Check { return check },
				Extra: map[string]float64{"x": 1},
			}, nil
		},
	}
}

func TestHarnessWithoutMeter(t *testing.T) {
	var runs atomic.Int64
	m := meter.NewNull(errs.Unsupported("rapl", "no rapl zones"), nil)
	h, err := New(fastOptions(), m, Ceilings{FP32GFLOPS: 10, GBPS: 1}, nil)
	require.NoError(t, err)
	require.NoError(t, h.Start(t.Context(), true))
	c := synthCase(time.Millisecond, &runs, CheckTol("rel_frobenius", 1e-7, 1e-5, ""))
	res, err := h.Run(t.Context(), c)
	require.NoError(t, err)

	assert.Equal(t, "synth/d=1ms/n=3", res.Name)
	assert.Equal(t, map[string]any{"d": "1ms", "n": 3}, res.Params)
	assert.Equal(t, "ok", res.Check.Status)
	assert.GreaterOrEqual(t, res.Samples, 5)
	assert.Equal(t, int64(res.Samples+2), runs.Load(), "check run + warm-up + samples, no energy runs")
	assert.GreaterOrEqual(t, res.MedianS, 1e-3)
	assert.LessOrEqual(t, res.P10S, res.MedianS)
	assert.LessOrEqual(t, res.MedianS, res.P90S)
	assert.InDelta(t, 1e6/res.MedianS/1e9, res.GFLOPS, 1e-12)
	assert.InDelta(t, 1e5/res.MedianS/1e9, res.GBPS, 1e-12)
	assert.InDelta(t, 10.0, res.Intensity, 1e-12)
	// Intensity 10 FLOP/B on a 1 GB/s machine: the roofline is 10 GFLOP/s.
	require.NotNil(t, res.RooflinePct)
	assert.InDelta(t, 100*res.GFLOPS/10, *res.RooflinePct, 1e-9)

	assert.Nil(t, res.EnergyJ)
	assert.Nil(t, res.AvgPowerW)
	assert.Nil(t, res.GFLOPPerJ)
	assert.Nil(t, res.EDP)
	assert.Contains(t, res.EnergyNote, "no rapl zones")
	mi := h.MeterInfo()
	assert.False(t, mi.Available)
	assert.Contains(t, mi.Reason, "no rapl zones")
	samples, err := h.Finish()
	require.NoError(t, err)
	assert.Empty(t, samples)
}

func TestHarnessUnknownCeilingsLeaveRooflineNull(t *testing.T) {
	var runs atomic.Int64
	h, err := New(fastOptions(), meter.NewNull(nil, nil), Ceilings{}, nil)
	require.NoError(t, err)
	res, err := h.Run(t.Context(), synthCase(100*time.Microsecond, &runs, Check{Status: "ok"}))
	require.NoError(t, err)
	assert.Nil(t, res.RooflinePct)
	assert.Positive(t, res.GFLOPS)
}

func TestHarnessFailedCheckIsNotTimed(t *testing.T) {
	var runs atomic.Int64
	h, err := New(fastOptions(), meter.NewNull(nil, nil), Ceilings{}, nil)
	require.NoError(t, err)
	res, err := h.Run(t.Context(), synthCase(100*time.Microsecond, &runs, CheckTol("rel_frobenius", 0.3, 1e-5, "rows 0..7")))
	require.ErrorIs(t, err, ErrCheck)
	assert.Contains(t, err.Error(), "rows 0..7")
	assert.Equal(t, "failed", res.Check.Status)
	assert.Zero(t, res.Samples)
	assert.Equal(t, int64(1), runs.Load())
	assert.NotEmpty(t, res.Error)

	// NaN errors fail too.
	assert.Equal(t, "failed", CheckTol("x", nanf(), 1, "").Status)
}

func nanf() float64 { var z float64; return z / z }

func TestHarnessNoCheckAndCold(t *testing.T) {
	var runs atomic.Int64
	o := fastOptions()
	o.NoCheck = true
	o.Cold = true
	o.FlushBytes = 1 << 20
	h, err := New(o, meter.NewNull(nil, nil), Ceilings{}, nil)
	require.NoError(t, err)
	res, err := h.Run(t.Context(), synthCase(100*time.Microsecond, &runs, CheckTol("x", 1, 0, "")))
	require.NoError(t, err, "a failing check is not run with --no-check")
	assert.Equal(t, "skipped", res.Check.Status)
	assert.Equal(t, "cold", res.Cache)
	// Every sample flushed: the flusher's counter wrapped through the samples.
	assert.Equal(t, byte(res.Samples), h.flush.n)
}

func TestHarnessPrepareAndRunErrors(t *testing.T) {
	h, err := New(fastOptions(), meter.NewNull(nil, nil), Ceilings{}, nil)
	require.NoError(t, err)
	bad := errs.Unsupported("monarch", "not implemented yet")
	c := Case{Op: "x", Prepare: func(context.Context, *rand.Rand) (*Instance, error) { return nil, bad }}
	res, err := h.Run(t.Context(), c)
	assert.ErrorIs(t, err, errs.ErrUnsupported)
	assert.Contains(t, res.Error, "not implemented")

	c.Prepare = func(context.Context, *rand.Rand) (*Instance, error) {
		return &Instance{Run: func(context.Context) error { return bad }}, nil
	}
	_, err = h.Run(t.Context(), c)
	assert.ErrorIs(t, err, errs.ErrUnsupported)
}

func TestHarnessCancel(t *testing.T) {
	var runs atomic.Int64
	o := fastOptions()
	o.MaxTime = time.Hour
	o.MaxNoise = 1e-9
	h, err := New(o, meter.NewNull(nil, nil), Ceilings{}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = h.Run(ctx, synthCase(time.Millisecond, &runs, Check{Status: "ok"}))
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
}

func TestNewRejectsBadOptions(t *testing.T) {
	o := fastOptions()
	o.MinSamples = 0
	_, err := New(o, meter.NewNull(nil, nil), Ceilings{}, nil)
	assert.ErrorIs(t, err, errs.ErrArgument)
}
