//go:build !cgo

package meter

import (
	"fmt"
	"time"

	"github.com/matmix/matmix/engine/errs"
)

// go-nvml loads libnvidia-ml through cgo's dlopen, so a binary built with
// CGO_ENABLED=0 cannot use NVML; it says so instead of failing to build.
func errNoCgo() error {
	return errs.Unsupported("nvml", "this binary was built without cgo, so libnvidia-ml cannot be loaded")
}

// noNVML is the NVML meter of a cgo-less build: it measures nothing.
type noNVML struct {
	*Null
	index int
}

func (m noNVML) Name() string { return fmt.Sprintf("nvml:%d", m.index) }

// OpenNVML returns a meter that measures nothing in a cgo-less build.
func OpenNVML(index int) Meter {
	return noNVML{NewNull(errNoCgo(), func() State { return State{Time: time.Now()} }), index}
}

// ListGPUs reports that NVML is unavailable in a cgo-less build.
func ListGPUs() GPUList { return GPUList{Err: errNoCgo()} }
