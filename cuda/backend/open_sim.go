//go:build cudasim

package backend

import (
	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/cuda/sim"
	"github.com/matmix/matmix/engine/errs"
)

// openDevice opens the simulator: a cudasim build has no other device.
func openDevice(ordinal int) (device.Device, error) {
	if ordinal != 0 {
		return nil, errs.Argument("cuda", "the simulator has one device, 0 (got %d)", ordinal)
	}
	return sim.Open()
}
