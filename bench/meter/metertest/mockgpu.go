//go:build cgo

// Package metertest simulates an NVIDIA GPU behind go-nvml's mock package,
// so the NVML meter and the harness can be tested without a GPU.
package metertest

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// GPU is one simulated GPU. Its total-energy counter integrates Watts over
// the clock Now and, like the real counter, only moves every Period. After
// Lost is set every call reports ERROR_GPU_IS_LOST, as when a GPU falls off
// the bus mid-run.
type GPU struct {
	Now    func() time.Time
	Period time.Duration
	Lost   atomic.Bool

	mu     sync.Mutex
	origin time.Time
	segs   []segment // power changes, in time order
}

// segment is a constant power draw from t on, with energy e accumulated at t.
type segment struct {
	t     time.Time
	e     float64
	watts float64
}

// New returns a GPU drawing watts from now on.
func New(now func() time.Time, watts float64, period time.Duration) *GPU {
	t := now()
	return &GPU{Now: now, Period: period, origin: t, segs: []segment{{t: t, watts: watts}}}
}

// SetWatts changes the power draw from now on.
func (g *GPU) SetWatts(w float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.Now()
	g.segs = append(g.segs, segment{t: t, e: g.energyAt(t), watts: w})
}

// Watts is the current power draw.
func (g *GPU) Watts() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.segs[len(g.segs)-1].watts
}

// energyAt is the exact energy (J) at t, from the segment that covers t.
func (g *GPU) energyAt(t time.Time) float64 {
	i := len(g.segs) - 1
	for i > 0 && g.segs[i].t.After(t) {
		i--
	}
	s := g.segs[i]
	return s.e + s.watts*max(t.Sub(s.t).Seconds(), 0)
}

// EnergyMJ is what nvmlDeviceGetTotalEnergyConsumption returns: the energy
// at the counter's last update, in whole millijoules.
func (g *GPU) EnergyMJ() (uint64, nvml.Return) {
	if g.Lost.Load() {
		return 0, nvml.ERROR_GPU_IS_LOST
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	el := g.Now().Sub(g.origin)
	last := g.origin.Add(el - el%g.Period)
	return uint64(g.energyAt(last) * 1e3), nvml.SUCCESS
}

func (g *GPU) ret() nvml.Return {
	if g.Lost.Load() {
		return nvml.ERROR_GPU_IS_LOST
	}
	return nvml.SUCCESS
}

// Library builds the go-nvml mock of a one-GPU machine. Methods a meter
// must never call (GetPowerUsage, the one-second average) are left nil, so
// calling them panics the test.
func (g *GPU) Library() *mock.Interface {
	dev := &mock.Device{
		GetNameFunc:                   func() (string, nvml.Return) { return "NVIDIA H100 80GB HBM3", g.ret() },
		GetUUIDFunc:                   func() (string, nvml.Return) { return "GPU-mock-0", g.ret() },
		GetTotalEnergyConsumptionFunc: g.EnergyMJ,
		GetFieldValuesFunc: func(fv []nvml.FieldValue) nvml.Return {
			if g.Lost.Load() {
				return nvml.ERROR_GPU_IS_LOST
			}
			for i := range fv {
				if fv[i].FieldId != nvml.FI_DEV_POWER_INSTANT {
					fv[i].NvmlReturn = uint32(nvml.ERROR_NOT_SUPPORTED)
					continue
				}
				fv[i].ValueType = uint32(nvml.VALUE_TYPE_UNSIGNED_INT)
				binary.LittleEndian.PutUint32(fv[i].Value[:], uint32(g.Watts()*1e3))
				fv[i].NvmlReturn = uint32(nvml.SUCCESS)
			}
			return nvml.SUCCESS
		},
		GetClockInfoFunc: func(ct nvml.ClockType) (uint32, nvml.Return) {
			if ct == nvml.CLOCK_SM {
				return 1980, g.ret()
			}
			return 2619, g.ret()
		},
		GetTemperatureFunc:           func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 41, g.ret() },
		GetEnforcedPowerLimitFunc:    func() (uint32, nvml.Return) { return 700000, g.ret() },
		GetCudaComputeCapabilityFunc: func() (int, int, nvml.Return) { return 9, 0, g.ret() },
		GetMemoryInfoFunc:            func() (nvml.Memory, nvml.Return) { return nvml.Memory{Total: 80 << 30}, g.ret() },
		GetCurrentClocksEventReasonsFunc: func() (uint64, nvml.Return) {
			return nvml.ClocksEventReasonSwPowerCap | nvml.ClocksEventReasonSwThermalSlowdown, g.ret()
		},
	}
	return &mock.Interface{
		InitFunc:                   func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:               func() nvml.Return { return nvml.SUCCESS },
		DeviceGetCountFunc:         func() (int, nvml.Return) { return 1, nvml.SUCCESS },
		SystemGetDriverVersionFunc: func() (string, nvml.Return) { return "570.86.15", nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if i != 0 {
				return nil, nvml.ERROR_INVALID_ARGUMENT
			}
			return dev, nvml.SUCCESS
		},
	}
}
