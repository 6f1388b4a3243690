//go:build !cudasim

package backend

import "github.com/matmix/matmix/cuda/device"

// openDevice opens GPU ordinal through the driver.
func openDevice(ordinal int) (device.Device, error) { return device.OpenCUDA(ordinal) }
