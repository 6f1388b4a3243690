//go:build cgo

package meter

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/matmix/matmix/engine/errs"
)

// NVML meters one NVIDIA GPU through NVML: nvmlDeviceGetTotalEnergyConsumption
// (millijoules since the driver loaded, Volta and later) for windows, the
// NVML_FI_DEV_POWER_INSTANT field for timelines.
type NVML struct {
	lib    nvml.Interface
	dev    nvml.Device
	index  int
	name   string
	now    func() time.Time
	inited bool
	err    error

	closeOnce sync.Once
}

// OpenNVML loads libnvidia-ml at run time and opens GPU index. It always
// returns a meter; one that cannot measure says why in Err.
func OpenNVML(index int) Meter { return NewNVML(nvml.New(), index, time.Now) }

// NewNVML opens GPU index on an NVML implementation (the real library or
// go-nvml's mock), reading time from now.
func NewNVML(lib nvml.Interface, index int, now func() time.Time) *NVML {
	m := &NVML{lib: lib, index: index, now: now}
	if ret := lib.Init(); ret != nvml.SUCCESS {
		m.err = nvmlError("init", ret)
		return m
	}
	m.inited = true
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		m.err = nvmlError("device count", ret)
		return m
	}
	if index < 0 || index >= n {
		m.err = errs.Device("nvml", nil, "gpu %d not found (%d gpus)", index, n)
		return m
	}
	dev, ret := lib.DeviceGetHandleByIndex(index)
	if ret != nvml.SUCCESS {
		m.err = nvmlError(fmt.Sprintf("gpu %d handle", index), ret)
		return m
	}
	m.dev = dev
	if name, ret := dev.GetName(); ret == nvml.SUCCESS {
		m.name = name
	}
	if _, ret := dev.GetTotalEnergyConsumption(); ret != nvml.SUCCESS {
		m.err = nvmlError(fmt.Sprintf("gpu %d total energy counter (volta or later needed)", index), ret)
	}
	return m
}

// nvmlError wraps an NVML return code (itself an error, so errors.Is finds
// e.g. nvml.ERROR_GPU_IS_LOST) as a device error.
func nvmlError(what string, ret nvml.Return) error {
	if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
		what += ": libnvidia-ml.so.1 not found (no nvidia driver on this machine)"
	}
	return errs.Device("nvml", ret, "%s", what)
}

// Name is "nvml:<index>".
func (m *NVML) Name() string { return fmt.Sprintf("nvml:%d", m.index) }

// DeviceName is the GPU's name ("" when unknown).
func (m *NVML) DeviceName() string { return m.name }

// Err says why the meter cannot measure.
func (m *NVML) Err() error { return m.err }

// Read returns the total energy counter in joules.
func (m *NVML) Read() (Reading, error) {
	if m.err != nil {
		return Reading{}, m.err
	}
	mj, ret := m.dev.GetTotalEnergyConsumption()
	t := m.now()
	if ret != nvml.SUCCESS {
		return Reading{}, nvmlError(fmt.Sprintf("gpu %d energy counter", m.index), ret)
	}
	return Reading{Joules: float64(mj) * 1e-3, Time: t}, nil
}

// Start opens a window on the energy counter.
func (m *NVML) Start() (Window, error) { return startWindow(m.Read) }

// Counter: 1 mJ steps; NVML does not publish the update period, so the
// harness probes it.
func (m *NVML) Counter() CounterInfo { return CounterInfo{StepJ: 1e-3} }

// Power reads NVML_FI_DEV_POWER_INSTANT (milliwatts) through the
// field-values API: the instantaneous reading, unlike GetPowerUsage.
func (m *NVML) Power() (float64, error) {
	if m.err != nil {
		return 0, m.err
	}
	fv := []nvml.FieldValue{{FieldId: nvml.FI_DEV_POWER_INSTANT}}
	if ret := m.dev.GetFieldValues(fv); ret != nvml.SUCCESS {
		return 0, nvmlError(fmt.Sprintf("gpu %d instant power", m.index), ret)
	}
	if ret := nvml.Return(fv[0].NvmlReturn); ret != nvml.SUCCESS {
		return 0, nvmlError(fmt.Sprintf("gpu %d instant power field", m.index), ret)
	}
	v, ok := fieldValue(fv[0])
	if !ok {
		return 0, errs.Device("nvml", nil, "gpu %d instant power: unknown value type %d", m.index, fv[0].ValueType)
	}
	return v * 1e-3, nil
}

// fieldValue decodes an NVML field value (a C union, little-endian here).
func fieldValue(f nvml.FieldValue) (float64, bool) {
	b := f.Value[:]
	switch nvml.ValueType(f.ValueType) {
	case nvml.VALUE_TYPE_DOUBLE:
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), true
	case nvml.VALUE_TYPE_UNSIGNED_INT:
		return float64(binary.LittleEndian.Uint32(b)), true
	case nvml.VALUE_TYPE_UNSIGNED_LONG, nvml.VALUE_TYPE_UNSIGNED_LONG_LONG:
		return float64(binary.LittleEndian.Uint64(b)), true
	case nvml.VALUE_TYPE_SIGNED_LONG_LONG:
		return float64(int64(binary.LittleEndian.Uint64(b))), true
	case nvml.VALUE_TYPE_SIGNED_INT:
		return float64(int32(binary.LittleEndian.Uint32(b))), true
	case nvml.VALUE_TYPE_UNSIGNED_SHORT:
		return float64(binary.LittleEndian.Uint16(b)), true
	}
	return 0, false
}

// throttleNames name the bits of nvmlClocksEventReasons (nvml.h).
var throttleNames = []struct {
	bit  uint64
	name string
}{
	{nvml.ClocksEventReasonGpuIdle, "gpu_idle"},
	{nvml.ClocksEventReasonApplicationsClocksSetting, "applications_clocks"},
	{nvml.ClocksEventReasonSwPowerCap, "sw_power_cap"},
	{nvml.ClocksThrottleReasonHwSlowdown, "hw_slowdown"},
	{nvml.ClocksEventReasonSyncBoost, "sync_boost"},
	{nvml.ClocksEventReasonSwThermalSlowdown, "sw_thermal_slowdown"},
	{nvml.ClocksThrottleReasonHwThermalSlowdown, "hw_thermal_slowdown"},
	{nvml.ClocksThrottleReasonHwPowerBrakeSlowdown, "hw_power_brake"},
	{nvml.ClocksEventReasonDisplayClockSetting, "display_clocks"},
}

// State reads SM and memory clocks, temperature, the enforced power limit
// and the clock event (throttle) reasons.
func (m *NVML) State() State {
	s := State{Time: m.now()}
	if m.dev == nil {
		if m.err != nil {
			s.Errors = append(s.Errors, m.err.Error())
		}
		return s
	}
	fail := func(what string, ret nvml.Return) {
		s.Errors = append(s.Errors, nvmlError(what, ret).Error())
	}
	if v, ret := m.dev.GetClockInfo(nvml.CLOCK_SM); ret == nvml.SUCCESS {
		s.ClockMHz = ptr(float64(v))
	} else {
		fail("sm clock", ret)
	}
	if v, ret := m.dev.GetClockInfo(nvml.CLOCK_MEM); ret == nvml.SUCCESS {
		s.MemClockMHz = ptr(float64(v))
	} else {
		fail("memory clock", ret)
	}
	if v, ret := m.dev.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
		s.TempC = ptr(float64(v))
	} else {
		fail("temperature", ret)
	}
	if v, ret := m.dev.GetEnforcedPowerLimit(); ret == nvml.SUCCESS {
		s.PowerLimitW = ptr(float64(v) * 1e-3)
	} else {
		fail("power limit", ret)
	}
	if v, ret := m.dev.GetCurrentClocksEventReasons(); ret == nvml.SUCCESS {
		for _, t := range throttleNames {
			if v&t.bit != 0 {
				s.Throttle = append(s.Throttle, t.name)
			}
		}
	} else {
		fail("clock event reasons", ret)
	}
	return s
}

// Close shuts NVML down once.
func (m *NVML) Close() error {
	var err error
	m.closeOnce.Do(func() {
		if m.inited {
			if ret := m.lib.Shutdown(); ret != nvml.SUCCESS {
				err = nvmlError("shutdown", ret)
			}
		}
	})
	return err
}
