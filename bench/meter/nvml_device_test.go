//go:build cgo && nvmldevice

// Checks against a real NVIDIA GPU, compiled only with -tags nvmldevice on a
// machine that has one (the mock tests cover the logic everywhere):
//
//	go test -tags nvmldevice -run Device -v ./bench/meter/
package meter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeviceNVML(t *testing.T) {
	m := OpenNVML(0)
	require.NoError(t, m.Err())
	defer m.Close()

	p, err := ProbePeriod(t.Context(), m, 2*time.Second)
	require.NoError(t, err)
	t.Logf("energy counter update period %v", p)
	assert.Greater(t, p, time.Duration(0), "an idle GPU's counter moves")
	assert.Less(t, p, time.Second)

	w, err := m.Start()
	require.NoError(t, err)
	time.Sleep(max(time.Second, 20*p))
	e, err := w.Stop()
	require.NoError(t, err)
	t.Logf("idle: %.3f J in %v = %.1f W", e.Joules, e.Duration, e.Watts())
	assert.True(t, e.Moved)
	assert.Greater(t, e.Watts(), 5.0)
	assert.Less(t, e.Watts(), 1500.0)

	if pr, ok := m.(PowerReader); ok {
		if w, err := pr.Power(); err == nil {
			t.Logf("instant power %.1f W", w)
			assert.Greater(t, w, 5.0)
		} else {
			t.Logf("instant power field unsupported: %v", err)
		}
	}
	s := m.State()
	t.Logf("state: clock %v MHz, mem %v MHz, %v C, limit %v W, throttle %v, errors %v",
		deref(s.ClockMHz), deref(s.MemClockMHz), deref(s.TempC), deref(s.PowerLimitW), s.Throttle, s.Errors)
	assert.NotNil(t, s.ClockMHz)
	assert.NotNil(t, s.TempC)
	assert.NotNil(t, s.PowerLimitW)

	l := ListGPUs()
	require.NoError(t, l.Err)
	require.NotEmpty(t, l.GPUs)
	t.Logf("driver %s, gpu 0: %+v", l.Driver, l.GPUs[0])
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
