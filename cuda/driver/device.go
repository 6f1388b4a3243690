package driver

import "fmt"

// Props are the properties of a device the engine sizes kernels with.
type Props struct {
	Name                string
	Major, Minor        int   // compute capability
	SMs                 int   // multiprocessors
	SharedPerBlock      int   // bytes of shared memory a block gets without opting in (48 KiB)
	SharedPerBlockOptin int   // bytes a block may opt in to (cuFuncSetAttribute)
	SharedPerSM         int   // bytes per multiprocessor
	L2Bytes             int   // L2 cache size
	TotalMem            int64 // bytes of device memory
	ClockKHz            int   // peak SM clock
	MemClockKHz         int   // peak memory clock
	MemBusWidth         int   // bits
	WarpSize            int
	MaxThreadsPerBlock  int
	MaxThreadsPerSM     int
	RegistersPerBlock   int
	StreamOrderedAlloc  bool // memory pools supported and cuMemAllocAsync exported
	DriverVersion       int  // 1000*major + 10*minor
}

// Arch is the compute capability as nvcc spells it, e.g. "sm_90".
func (p Props) Arch() string { return fmt.Sprintf("sm_%d%d", p.Major, p.Minor) }

// DeviceCount is the number of CUDA devices.
func (d *Driver) DeviceCount() (int, error) {
	var n int32
	err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n))
	return int(n), err
}

// Device returns the handle of device ordinal i.
func (d *Driver) Device(i int) (Device, error) {
	var dev Device
	err := d.check("cuDeviceGet", d.cuDeviceGet(&dev, int32(i)))
	return dev, err
}

// Attribute reads one device attribute.
func (d *Driver) Attribute(dev Device, a Attribute) (int, error) {
	var v int32
	err := d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(&v, a, dev))
	return int(v), err
}

// Props reads the properties of dev.
func (d *Driver) Props(dev Device) (Props, error) {
	var p Props
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return p, err
	}
	p.Name = goString(&name[0])
	attrs := []struct {
		a   Attribute
		dst *int
	}{
		{AttrComputeCapabilityMajor, &p.Major},
		{AttrComputeCapabilityMinor, &p.Minor},
		{AttrMultiprocessorCount, &p.SMs},
		{AttrMaxSharedPerBlock, &p.SharedPerBlock},
		{AttrMaxSharedPerBlockOptin, &p.SharedPerBlockOptin},
		{AttrMaxSharedPerSM, &p.SharedPerSM},
		{AttrL2CacheSize, &p.L2Bytes},
		{AttrClockRate, &p.ClockKHz},
		{AttrMemoryClockRate, &p.MemClockKHz},
		{AttrGlobalMemoryBusWidth, &p.MemBusWidth},
		{AttrWarpSize, &p.WarpSize},
		{AttrMaxThreadsPerBlock, &p.MaxThreadsPerBlock},
		{AttrMaxThreadsPerSM, &p.MaxThreadsPerSM},
		{AttrMaxRegistersPerBlock, &p.RegistersPerBlock},
	}
	for _, a := range attrs {
		v, err := d.Attribute(dev, a.a)
		if err != nil {
			return p, err
		}
		*a.dst = v
	}
	var total uintptr
	if err := d.check("cuDeviceTotalMem_v2", d.cuDeviceTotalMem(&total, dev)); err != nil {
		return p, err
	}
	p.TotalMem = int64(total)
	// Memory pools are an optional feature: a driver that does not know the
	// attribute answers CUDA_ERROR_INVALID_VALUE, which means "no".
	pools, err := d.Attribute(dev, AttrMemoryPoolsSupported)
	p.StreamOrderedAlloc = err == nil && pools != 0 && d.HasStreamOrderedAlloc()
	if p.DriverVersion, err = d.Version(); err != nil {
		return p, err
	}
	return p, nil
}
