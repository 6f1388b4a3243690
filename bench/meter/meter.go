// Package meter measures the energy a device uses over windows of time:
// NVIDIA GPUs through NVML's total-energy counter, the CPU through Linux
// RAPL (powercap), and a null meter that says why nothing is measured.
//
// Energy always comes from a cumulative counter read at the start and the
// end of a window, never from an averaged power reading: NVML's
// nvmlDeviceGetPowerUsage is a one-second moving average on recent GPUs and
// says nothing about a kernel that runs for milliseconds. A counter only
// moves every update period, so a window shorter than a few periods is
// unreliable; the harness in package bench lengthens such windows by
// repeating the workload (see docs/benchmarking.md).
package meter

import (
	"time"
)

// Meter reads a device's energy counter.
type Meter interface {
	// Name identifies the meter, e.g. "nvml:0", "rapl" or "none".
	Name() string
	// Err says why the meter cannot measure; nil when it can.
	Err() error
	// Read returns the cumulative counter (joules since an arbitrary
	// origin) and when it was read.
	Read() (Reading, error)
	// Start opens a measurement window at the current counter value.
	Start() (Window, error)
	// Counter describes the counter: its unit step and, when known, how
	// often it updates.
	Counter() CounterInfo
	// State reads clocks, temperatures and limits (fields the device does
	// not report are nil). It never fails: a reading that fails is left nil
	// and its error recorded in State.Errors.
	State() State
	// Close releases the meter.
	Close() error
}

// Reading is one read of a cumulative energy counter.
type Reading struct {
	Joules float64
	Time   time.Time
}

// Window is an open measurement window.
type Window interface {
	// Stop closes the window and returns the energy used since Start.
	Stop() (Energy, error)
}

// Energy is what a window measured.
type Energy struct {
	Joules   float64
	Duration time.Duration
	// Moved reports whether the counter changed during the window. A window
	// in which it did not move measured nothing (not zero joules).
	Moved bool
}

// Watts is the average power of the window (0 for an empty window).
func (e Energy) Watts() float64 {
	if e.Duration <= 0 {
		return 0
	}
	return e.Joules / e.Duration.Seconds()
}

// CounterInfo describes an energy counter.
type CounterInfo struct {
	// StepJ is the counter's unit in joules (NVML: 1 mJ; RAPL: 1 µJ).
	StepJ float64
	// UpdatePeriod is how often the counter changes; 0 when unknown. The
	// harness measures it (ProbePeriod) when the meter cannot say.
	UpdatePeriod time.Duration
}

// PowerReader is implemented by meters that read instantaneous power (for
// timelines; never used for a kernel's energy).
type PowerReader interface {
	// Power returns the instantaneous power in watts.
	Power() (float64, error)
}

// State is a device's operating point at one moment. Nil fields were not
// reported by the device.
type State struct {
	Time        time.Time `json:"-"`
	ClockMHz    *float64  `json:"clock_mhz"` // SM clock on a GPU, mean core clock on a CPU
	MemClockMHz *float64  `json:"mem_clock_mhz"`
	TempC       *float64  `json:"temp_c"`
	PowerLimitW *float64  `json:"power_limit_w"`
	Throttle    []string  `json:"throttle_reasons,omitempty"`
	Errors      []string  `json:"errors,omitempty"`
}

func ptr(v float64) *float64 { return &v }
