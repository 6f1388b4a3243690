package meter

import (
	"strconv"
	"strings"
	"time"

	"github.com/matmix/matmix/engine/errs"
)

// ForBackend picks the meter for an engine backend name: NVML on GPU N for
// "cuda:N", RAPL for "cpu" where it is readable, else the null meter with
// the reason.
func ForBackend(backend string) Meter {
	if rest, ok := strings.CutPrefix(backend, "cuda"); ok {
		idx := 0
		if r, ok := strings.CutPrefix(rest, ":"); ok {
			i, err := strconv.Atoi(r)
			if err != nil {
				return NewNull(errs.Argument("meter", "bad cuda device in backend name %q", backend), nil)
			}
			idx = i
		}
		m := OpenNVML(idx)
		if m.Err() != nil {
			err := m.Err()
			m.Close()
			return NewNull(err, nil)
		}
		return m
	}
	if backend == "cpu" {
		m := OpenRAPL(PowercapRoot, time.Now)
		if m.Err() != nil {
			return NewNull(m.Err(), func() State { return CPUState("/") })
		}
		return m
	}
	return NewNull(errs.Unsupported("meter", "no energy meter for backend %q", backend), nil)
}
