package meter

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/errs"
)

// rampMeter is a counter that integrates a constant power on the real
// clock, moving every period; it is not a PowerReader.
type rampMeter struct {
	watts  float64
	period time.Duration
	origin time.Time
	fail   atomic.Bool
}

func (m *rampMeter) Name() string { return "ramp" }
func (m *rampMeter) Err() error   { return nil }
func (m *rampMeter) Read() (Reading, error) {
	if m.fail.Load() {
		return Reading{}, errs.Device("ramp", nil, "gone")
	}
	now := time.Now()
	el := now.Sub(m.origin)
	el -= el % m.period
	return Reading{Joules: el.Seconds() * m.watts, Time: m.origin.Add(el)}, nil
}
func (m *rampMeter) Start() (Window, error) { return startWindow(m.Read) }
func (m *rampMeter) Counter() CounterInfo   { return CounterInfo{StepJ: 1e-6} }
func (m *rampMeter) State() State           { return State{Time: time.Now()} }
func (m *rampMeter) Close() error           { return nil }

// instantMeter adds an instantaneous power reading.
type instantMeter struct{ rampMeter }

func (m *instantMeter) Power() (float64, error) { return m.watts, nil }

func TestSamplerFromCounter(t *testing.T) {
	m := &rampMeter{watts: 250, period: 5 * time.Millisecond, origin: time.Now()}
	s := StartSampler(m, time.Millisecond)
	s.SetLabel("a")
	time.Sleep(40 * time.Millisecond)
	s.SetLabel("b")
	time.Sleep(40 * time.Millisecond)
	samples, err := s.Stop()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(samples), 4)
	labels := map[string]bool{}
	for i, p := range samples {
		assert.Equal(t, "counter", p.Source)
		// The counter's reading times are exact multiples of the period,
		// so every rate is the true power.
		assert.InDelta(t, 250, p.Watts, 1e-6)
		if i > 0 {
			assert.Greater(t, p.T, samples[i-1].T, "timestamps must increase")
		}
		labels[p.Label] = true
	}
	assert.True(t, labels["a"] && labels["b"])
}

func TestSamplerInstant(t *testing.T) {
	m := &instantMeter{rampMeter{watts: 75, period: time.Hour, origin: time.Now()}}
	s := StartSampler(m, time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	samples, err := s.Stop()
	require.NoError(t, err)
	require.NotEmpty(t, samples)
	for _, p := range samples {
		assert.Equal(t, "instant", p.Source)
		assert.Equal(t, 75.0, p.Watts)
	}
}

func TestSamplerStopsOnError(t *testing.T) {
	m := &rampMeter{watts: 100, period: time.Millisecond, origin: time.Now()}
	s := StartSampler(m, time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	m.fail.Store(true)
	time.Sleep(5 * time.Millisecond)
	_, err := s.Stop()
	assert.ErrorIs(t, err, errs.ErrDevice)
}
