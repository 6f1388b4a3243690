package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/matmix/matmix/bench/meter"
)

// energyWindow is the energy of repeated runs in one counter window.
type energyWindow struct {
	joules float64
	runs   int
	window time.Duration
}

// errCounterStuck says the counter never moved: energy is unmeasured, not 0.
type errCounterStuck struct {
	waited time.Duration
	runs   int
}

func (e *errCounterStuck) Error() string {
	return fmt.Sprintf("energy counter did not move in %v over %d runs", e.waited.Round(time.Millisecond), e.runs)
}

// meterError marks an error of the meter (not of the workload): it leaves
// the energy unmeasured instead of failing the configuration.
type meterError struct{ err error }

func (e *meterError) Error() string { return e.err.Error() }
func (e *meterError) Unwrap() error { return e.err }

// measureEnergy runs the workload back to back inside one counter window
// until the window is at least minWindow long and the counter moved. A
// window that is too short is retried with more runs (scaled by how short
// it fell, at least doubled), so short kernels are never reported as 0 J.
// It gives up after maxTime.
func measureEnergy(ctx context.Context, m meter.Meter, run func(context.Context) error, perRun, minWindow, maxTime time.Duration) (energyWindow, error) {
	reps := 1
	if perRun > 0 {
		reps = int(math.Ceil(float64(minWindow) / float64(perRun)))
	}
	reps = max(reps, 1)
	start := time.Now()
	total := 0
	for {
		w, err := m.Start()
		if err != nil {
			return energyWindow{}, &meterError{err}
		}
		for range reps {
			if err := run(ctx); err != nil {
				return energyWindow{}, err
			}
		}
		e, err := w.Stop()
		if err != nil {
			return energyWindow{}, &meterError{err}
		}
		total += reps
		if e.Moved && e.Duration >= minWindow {
			return energyWindow{joules: e.Joules, runs: reps, window: e.Duration}, nil
		}
		if time.Since(start) >= maxTime {
			return energyWindow{}, &meterError{&errCounterStuck{waited: time.Since(start), runs: total}}
		}
		grow := 2.0
		if e.Duration > 0 && e.Duration < minWindow {
			grow = max(grow, 1.2*float64(minWindow)/float64(e.Duration))
		}
		reps = int(math.Ceil(float64(reps) * grow))
	}
}

// measureIdle measures the device's power with nothing running: a window of
// at least d, lengthened like measureEnergy's until the counter moves.
func measureIdle(ctx context.Context, m meter.Meter, d, maxTime time.Duration) (float64, error) {
	const tick = 10 * time.Millisecond
	sleep := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tick):
			return nil
		}
	}
	w, err := measureEnergy(ctx, m, sleep, tick, d, maxTime)
	if err != nil {
		return 0, err
	}
	return w.joules / w.window.Seconds(), nil
}
