package meter

import (
	"github.com/matmix/matmix/engine/errs"
)

// counterWindow is a window over a cumulative counter: the energy is the
// difference of two reads, so no sample between them is needed.
type counterWindow struct {
	read  func() (Reading, error)
	start Reading
}

// startWindow opens a window on a counter read function; every meter of
// this package builds its Start on it.
func startWindow(read func() (Reading, error)) (Window, error) {
	r, err := read()
	if err != nil {
		return nil, err
	}
	return &counterWindow{read: read, start: r}, nil
}

func (w *counterWindow) Stop() (Energy, error) {
	r, err := w.read()
	if err != nil {
		return Energy{}, err
	}
	d := r.Joules - w.start.Joules
	if d < 0 {
		// NVML's counter restarts when the driver reloads; RAPL wraps are
		// handled below this level, so a decrease is a reset.
		return Energy{}, errs.Device("meter", nil, "energy counter went backwards (%.3f J to %.3f J): counter reset", w.start.Joules, r.Joules)
	}
	return Energy{Joules: d, Duration: r.Time.Sub(w.start.Time), Moved: d > 0}, nil
}
