package backend

import (
	"context"
	"sync"
	"time"
)

// Context plumbing between a caller that schedules work (package
// engine/sched) and the backends: the caller says which of its streams a
// call belongs to and collects the device time the backend measures. A
// backend that has neither streams nor device events ignores both.

type streamKey struct{}

type timingKey struct{}

// WithStream returns ctx carrying stream index idx: calls made with it
// belong to the caller's ordered queue idx (package sched's stream index
// on its device). A backend with device streams maps each index onto one
// of its streams, so that work of one index stays in order and different
// indices overlap.
func WithStream(ctx context.Context, idx int) context.Context {
	return context.WithValue(ctx, streamKey{}, idx)
}

// StreamFrom returns the stream index ctx carries, if any.
func StreamFrom(ctx context.Context) (int, bool) {
	idx, ok := ctx.Value(streamKey{}).(int)
	return idx, ok
}

// DeviceTime is device-side time measured by device events, summed over
// the backend calls of a workload.
type DeviceTime struct {
	Span      time.Duration // from each call's first device operation to its last, on its stream
	Kernels   time.Duration // kernel launches
	Copies    time.Duration // host<->device copies
	CopyBytes int64         // bytes copied between host and device
	Calls     int           // backend calls measured
}

// Add returns the sum of t and o.
func (t DeviceTime) Add(o DeviceTime) DeviceTime {
	return DeviceTime{Span: t.Span + o.Span, Kernels: t.Kernels + o.Kernels, Copies: t.Copies + o.Copies,
		CopyBytes: t.CopyBytes + o.CopyBytes, Calls: t.Calls + o.Calls}
}

// Timing collects the DeviceTime of the calls made with a context. It is
// safe for concurrent use (a workload may fan out); the methods of a nil
// *Timing do nothing, so a backend calls TimingFrom(ctx).Add(...) without
// checking.
type Timing struct {
	mu sync.Mutex
	t  DeviceTime
}

// Add adds one call's measurement.
func (t *Timing) Add(d DeviceTime) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.t = t.t.Add(d)
	t.mu.Unlock()
}

// Total returns the sum so far.
func (t *Timing) Total() DeviceTime {
	if t == nil {
		return DeviceTime{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.t
}

// WithTiming returns ctx carrying t: backends add the device time of the
// calls made with it.
func WithTiming(ctx context.Context, t *Timing) context.Context {
	return context.WithValue(ctx, timingKey{}, t)
}

// TimingFrom returns the Timing ctx carries, or nil: a backend measures
// device time only when someone collects it.
func TimingFrom(ctx context.Context) *Timing {
	t, _ := ctx.Value(timingKey{}).(*Timing)
	return t
}
