//go:build cudasim

package sim

import (
	"errors"

	"github.com/matmix/matmix/engine/errs"
)

// ErrInjected is the cause of every failure InjectFaults makes: the
// errs.ErrDevice error a failing call returns wraps it, so that a test can
// tell an injected fault (errors.Is(err, sim.ErrInjected)) from a real one.
var ErrInjected = errors.New("injected fault")

// Faults make the simulator fail calls, to test the error paths above it
// (the pool, the backend, the scheduler). Each field is N: the Nth call
// of that kind after InjectFaults fails; 0 never fails.
type Faults struct {
	Alloc     int64 // Alloc and AllocAsync
	Launch    int64 // Launch
	Copy      int64 // CopyHtoD, CopyDtoH, CopyDtoD and their Async forms
	HostAlloc int64 // HostAlloc (pinned host memory)
	// Persist keeps a kind failing from its Nth call on, as a device that
	// ran out of memory or faulted stays so; without it only the Nth call
	// fails (so the pool's retry after freeing its cache succeeds).
	Persist bool
}

// faultKind indexes Device.calls.
type faultKind int

const (
	faultAlloc faultKind = iota
	faultLaunch
	faultCopy
	faultHostAlloc
	faultKinds
)

func (k faultKind) op() string {
	switch k {
	case faultAlloc:
		return "cudasim alloc"
	case faultLaunch:
		return "cudasim launch"
	case faultCopy:
		return "cudasim copy"
	}
	return "cudasim host alloc"
}

// InjectFaults replaces the faults in force and restarts the call counts;
// InjectFaults(Faults{}) stops injecting.
func (d *Device) InjectFaults(f Faults) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = f
	d.calls = [faultKinds]int64{}
}

// Calls returns how many calls of each kind (alloc, launch, copy, host
// alloc) the device has seen since the last InjectFaults (or Open).
func (d *Device) Calls() Faults {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Faults{Alloc: d.calls[faultAlloc], Launch: d.calls[faultLaunch], Copy: d.calls[faultCopy], HostAlloc: d.calls[faultHostAlloc]}
}

// fault counts one call of kind k and returns the injected error when it
// is one that must fail.
func (d *Device) fault(k faultKind) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[k]++
	n := [faultKinds]int64{d.faults.Alloc, d.faults.Launch, d.faults.Copy, d.faults.HostAlloc}[k]
	if c := d.calls[k]; n > 0 && (c == n || d.faults.Persist && c > n) {
		return errs.Device(k.op(), ErrInjected, "call %d", c)
	}
	return nil
}

// Resources count what the device holds: live device allocations, pinned
// host buffers, streams (besides the default one) and events. Tests check
// that a user of the device returns them all.
type Resources struct {
	Allocs, HostAllocs, Streams, Events int
}

// Live returns the resources held now.
func (d *Device) Live() Resources {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Resources{Allocs: len(d.allocs), HostAllocs: len(d.host), Streams: len(d.streams) - 1, Events: len(d.events)}
}
