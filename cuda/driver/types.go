package driver

// Handles, with the representation cuda.h gives them: CUdevice is an int,
// CUdeviceptr an unsigned long long (since the _v2 API), the rest opaque
// pointers.
type (
	Device    int32   // CUdevice: an ordinal-like handle from cuDeviceGet
	DevicePtr uint64  // CUdeviceptr
	Stream    uintptr // CUstream; 0 is the legacy default stream
	Event     uintptr // CUevent
	Module    uintptr // CUmodule
	Function  uintptr // CUfunction
)

// Attribute is a CUdevice_attribute.
type Attribute int32

// Device attributes (cuda.h, enum CUdevice_attribute_enum; also listed at
// https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__TYPES.html).
const (
	AttrMaxThreadsPerBlock     Attribute = 1
	AttrMaxSharedPerBlock      Attribute = 8
	AttrWarpSize               Attribute = 10
	AttrMaxRegistersPerBlock   Attribute = 12
	AttrClockRate              Attribute = 13 // kHz
	AttrMultiprocessorCount    Attribute = 16
	AttrMemoryClockRate        Attribute = 36 // kHz
	AttrGlobalMemoryBusWidth   Attribute = 37 // bits
	AttrL2CacheSize            Attribute = 38 // bytes
	AttrMaxThreadsPerSM        Attribute = 39
	AttrComputeCapabilityMajor Attribute = 75
	AttrComputeCapabilityMinor Attribute = 76
	AttrMaxSharedPerSM         Attribute = 81
	AttrMaxSharedPerBlockOptin Attribute = 97
	AttrMemoryPoolsSupported   Attribute = 115
)

// FuncAttribute is a CUfunction_attribute.
type FuncAttribute int32

// Function attributes (cuda.h, enum CUfunction_attribute_enum).
const (
	FuncMaxThreadsPerBlock       FuncAttribute = 0
	FuncSharedSizeBytes          FuncAttribute = 1 // static shared memory
	FuncLocalSizeBytes           FuncAttribute = 3 // local memory per thread (spills)
	FuncNumRegs                  FuncAttribute = 4
	FuncMaxDynamicSharedSizeByte FuncAttribute = 8 // the opt-in limit, default 48 KiB
)

// Flags (cuda.h).
const (
	StreamNonBlocking    uint32 = 0x1 // CU_STREAM_NON_BLOCKING: no implicit sync with stream 0
	EventDefault         uint32 = 0x0 // CU_EVENT_DEFAULT (timing enabled)
	MemHostAllocPortable uint32 = 0x1 // CU_MEMHOSTALLOC_PORTABLE: pinned for every context
)

// DefaultDynamicSmemMax is the dynamic shared memory a kernel may use
// without raising FuncMaxDynamicSharedSizeByte (CUDA C++ Programming Guide,
// "Shared Memory": allocations above 48 KB need the opt-in).
const DefaultDynamicSmemMax = 48 << 10
