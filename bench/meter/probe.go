package meter

import (
	"context"
	"slices"
	"time"
)

// ProbePeriod estimates how often m's counter updates: it polls the counter
// for at most maxWait (on the meter's clock) and returns the median interval
// between the changes it saw. It returns 0 when the counter changed fewer
// than twice, so the period is unknown.
func ProbePeriod(ctx context.Context, m Meter, maxWait time.Duration) (time.Duration, error) {
	const wantChanges = 6
	first, err := m.Read()
	if err != nil {
		return 0, err
	}
	last := first
	var changes []time.Time
	for len(changes) < wantChanges {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		// Short sleeps: NVML's counter moves every few tens of ms, RAPL's
		// every millisecond or so.
		time.Sleep(200 * time.Microsecond)
		r, err := m.Read()
		if err != nil {
			return 0, err
		}
		if r.Joules != last.Joules {
			changes = append(changes, r.Time)
		}
		last = r
		if r.Time.Sub(first.Time) >= maxWait {
			break
		}
	}
	if len(changes) < 2 {
		return 0, nil
	}
	iv := make([]time.Duration, len(changes)-1)
	for i := range iv {
		iv[i] = changes[i+1].Sub(changes[i])
	}
	slices.Sort(iv)
	return iv[len(iv)/2], nil
}
