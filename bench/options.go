package bench

import (
	"time"

	"github.com/matmix/matmix/engine/errs"
)

// Options control how configurations are measured.
type Options struct {
	// MaxNoise is the relative noise (standard deviation over mean of the
	// samples) under which sampling may stop; nvbench's default is 0.5%.
	MaxNoise float64
	// MinSamples is the fewest samples taken.
	MinSamples int
	// MinTime is the least total time of the samples.
	MinTime time.Duration
	// MaxTime is the timeout: sampling stops after this much wall time even
	// when the noise is still above MaxNoise (the result says so).
	MaxTime time.Duration
	// Cold flushes the host caches before every sample (touching a buffer
	// larger than the last-level cache); hot reuses them.
	Cold bool
	// FlushBytes overrides the size of the flush buffer (0: twice the
	// last-level cache, at most 512 MiB).
	FlushBytes int64
	// NoCheck skips the check against the reference.
	NoCheck bool
	// RefFLOPs bounds the work of one reference check: larger problems are
	// checked on a subset (rows, a prefix of tokens) of about this cost.
	RefFLOPs float64
	// MinEnergyWindow is the shortest energy window; the harness also makes
	// windows at least 10 counter update periods long.
	MinEnergyWindow time.Duration
	// MaxEnergyTime bounds the search for a window in which the counter
	// moves; past it, energy is reported as unmeasured (null), never 0.
	MaxEnergyTime time.Duration
	// IdleTime is how long idle power is measured before the first case.
	IdleTime time.Duration
	// Cooldown is a pause before every configuration, to let the device
	// return to its idle temperature between trials.
	Cooldown time.Duration
	// Seed seeds the input generators; 0 draws a fresh seed.
	Seed uint64
}

// DefaultOptions are nvbench's defaults: 0.5% noise, 10 samples, 0.5 s
// minimum time, 15 s timeout.
func DefaultOptions() Options {
	return Options{
		MaxNoise:        0.005,
		MinSamples:      10,
		MinTime:         500 * time.Millisecond,
		MaxTime:         15 * time.Second,
		RefFLOPs:        2e8,
		MinEnergyWindow: 500 * time.Millisecond,
		MaxEnergyTime:   10 * time.Second,
		IdleTime:        time.Second,
	}
}

// QuickOptions trade precision for time (`--quick`): a few samples, short
// windows, so every workload finishes in about a second.
func QuickOptions() Options {
	o := DefaultOptions()
	o.MaxNoise = 0.02
	o.MinSamples = 5
	o.MinTime = 50 * time.Millisecond
	o.MaxTime = time.Second
	o.RefFLOPs = 5e7
	o.MinEnergyWindow = 100 * time.Millisecond
	o.MaxEnergyTime = 2 * time.Second
	o.IdleTime = 200 * time.Millisecond
	return o
}

// Validate rejects options that cannot be measured with.
func (o Options) Validate() error {
	const op = "bench"
	switch {
	case !(o.MaxNoise > 0):
		return errs.Argument(op, "max noise must be > 0, got %g", o.MaxNoise)
	case o.MinSamples < 1:
		return errs.Argument(op, "min samples must be >= 1, got %d", o.MinSamples)
	case o.MinTime < 0:
		return errs.Argument(op, "min time must be >= 0, got %v", o.MinTime)
	case o.MaxTime <= 0:
		return errs.Argument(op, "max time must be > 0, got %v", o.MaxTime)
	case o.MaxTime < o.MinTime:
		return errs.Argument(op, "max time %v is below min time %v", o.MaxTime, o.MinTime)
	case o.FlushBytes < 0:
		return errs.Argument(op, "flush bytes must be >= 0, got %d", o.FlushBytes)
	case o.MinEnergyWindow < 0 || o.MaxEnergyTime < 0 || o.IdleTime < 0 || o.Cooldown < 0:
		return errs.Argument(op, "energy windows, idle time and cooldown must be >= 0")
	case !(o.RefFLOPs > 0):
		return errs.Argument(op, "reference budget must be > 0, got %g", o.RefFLOPs)
	}
	return nil
}
