package sched

import (
	"time"

	"github.com/matmix/matmix/engine/backend"
)

// Record is what happened to one workload: where it ran, how long it
// waited and ran, and how many bytes it moved. The benchmark and the
// profiler read records; WriteTrace draws them.
type Record struct {
	ID         uint64
	Name       string // the graph node's name, or the workload's kind
	Kind       string // "monarch", "gla", "w4a4", "spgemm"
	Device     int    // index in Options.Devices; -1 when never placed
	DeviceName string // the engine's backend name, e.g. "cpu" or "cuda:0"
	Stream     int    // stream index on the device; -1 when never placed
	// Submitted is when the workload was queued, Started when its stream
	// took it and Finished when it completed; Started is zero when it
	// never ran (cancelled or failed before).
	Submitted, Started, Finished time.Time
	Bytes                        int64 // bytes read and written (0 unless it succeeded)
	// DeviceTime is what the backend measured on the device with events
	// (the CUDA backend: the span of the workload's calls on its stream,
	// their kernels and copies, and the bytes copied); zero on a backend
	// without device events, such as the CPU.
	DeviceTime backend.DeviceTime
	Err        error
}

// Ran reports whether the workload started running.
func (r Record) Ran() bool { return !r.Started.IsZero() }

// QueueTime is the time from submission to start (0 if it never ran).
func (r Record) QueueTime() time.Duration {
	if !r.Ran() {
		return 0
	}
	return r.Started.Sub(r.Submitted)
}

// RunTime is the time from start to completion (0 if it never ran): the
// host's wall time of the call; DeviceTime has the device's own.
func (r Record) RunTime() time.Duration {
	if !r.Ran() {
		return 0
	}
	return r.Finished.Sub(r.Started)
}

// Future is the pending result of a submitted workload.
type Future struct {
	w    Workload
	done chan struct{}
	err  error
	rec  Record
}

func newFuture(w Workload, name string) *Future {
	kind := ""
	if w != nil {
		kind = w.Kind()
	}
	if name == "" {
		name = kind
	}
	return &Future{w: w, done: make(chan struct{}), rec: Record{Name: name, Kind: kind, Device: -1, Stream: -1}}
}

// Done is closed when the workload has completed, failed or been dropped.
func (f *Future) Done() <-chan struct{} { return f.done }

// Wait blocks until the future is done and returns its error.
func (f *Future) Wait() error {
	<-f.done
	return f.err
}

// Err is nil while the future is pending, then the workload's error (nil
// when it succeeded).
func (f *Future) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// Record returns the workload's record once done (a partial one before).
func (f *Future) Record() Record {
	select {
	case <-f.done:
		return f.rec
	default:
		return Record{Name: f.rec.Name, Kind: f.rec.Kind, Device: -1, Stream: -1}
	}
}

// Workload is the workload; its outputs are valid once Wait returns nil.
func (f *Future) Workload() Workload { return f.w }

// resolve completes the future; the caller owns f.rec until then.
func (f *Future) resolve(err error) {
	f.err = err
	f.rec.Err = err
	if f.rec.Finished.IsZero() {
		f.rec.Finished = time.Now()
	}
	close(f.done)
}
