//go:build cgo

package meter

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// ListGPUs lists the machine's NVIDIA GPUs through NVML (loaded at run time).
func ListGPUs() GPUList { return ListGPUsWith(nvml.New()) }

// ListGPUsWith lists GPUs through an NVML implementation.
func ListGPUsWith(lib nvml.Interface) GPUList {
	var l GPUList
	if ret := lib.Init(); ret != nvml.SUCCESS {
		l.Err = nvmlError("init", ret)
		return l
	}
	defer lib.Shutdown()
	if v, ret := lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		l.Driver = v
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		l.Err = nvmlError("device count", ret)
		return l
	}
	for i := range n {
		g := GPUInfo{Index: i, Status: "ok"}
		dev, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			g.Status = nvmlError(fmt.Sprintf("gpu %d handle", i), ret).Error()
			l.GPUs = append(l.GPUs, g)
			continue
		}
		if v, ret := dev.GetName(); ret == nvml.SUCCESS {
			g.Name = v
		}
		if v, ret := dev.GetUUID(); ret == nvml.SUCCESS {
			g.UUID = v
		}
		if major, minor, ret := dev.GetCudaComputeCapability(); ret == nvml.SUCCESS {
			g.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
		}
		if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			g.MemoryBytes = mem.Total
		}
		if v, ret := dev.GetEnforcedPowerLimit(); ret == nvml.SUCCESS {
			g.PowerLimitW = ptr(float64(v) * 1e-3)
		}
		if _, ret := dev.GetTotalEnergyConsumption(); ret == nvml.SUCCESS {
			g.EnergyCounter = true
		} else {
			g.Status = nvmlError("total energy counter", ret).Error()
		}
		l.GPUs = append(l.GPUs, g)
	}
	return l
}
