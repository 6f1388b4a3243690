package meter

import (
	"errors"
	"time"
)

// Null measures nothing and says why.
type Null struct {
	reason error
	state  func() State
}

// NewNull returns a meter that measures nothing because of reason. state,
// when not nil, still reports the device's clocks and temperatures.
func NewNull(reason error, state func() State) *Null {
	if reason == nil {
		reason = errors.New("no energy meter configured")
	}
	return &Null{reason: reason, state: state}
}

// Name is "none".
func (n *Null) Name() string { return "none" }

// Err is the reason nothing is measured.
func (n *Null) Err() error { return n.reason }

// Read fails with the reason.
func (n *Null) Read() (Reading, error) { return Reading{}, n.reason }

// Start fails with the reason.
func (n *Null) Start() (Window, error) { return nil, n.reason }

// Counter is empty.
func (n *Null) Counter() CounterInfo { return CounterInfo{} }

// State is the state function's reading, or only the time.
func (n *Null) State() State {
	if n.state != nil {
		return n.state()
	}
	return State{Time: time.Now()}
}

// Close does nothing.
func (n *Null) Close() error { return nil }
