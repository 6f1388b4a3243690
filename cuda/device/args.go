package device

import "math"

// Arg is one kernel argument: its value's bits in a 64-bit slot, as
// cuLaunchKernel's kernelParams want them (a pointer to each value, from
// which the driver copies as many bytes as the parameter's type has; on a
// little-endian machine the low bytes of the slot hold a 32-bit value).
type Arg struct{ bits uint64 }

// Bits returns the slot's contents.
func (a Arg) Bits() uint64 { return a.bits }

// PtrArg passes a device pointer (T* in the kernel).
func PtrArg(p Ptr) Arg { return Arg{uint64(p)} }

// Int32Arg passes an int.
func Int32Arg(v int32) Arg { return Arg{uint64(uint32(v))} }

// Uint32Arg passes an unsigned int.
func Uint32Arg(v uint32) Arg { return Arg{uint64(v)} }

// Int64Arg passes a long long.
func Int64Arg(v int64) Arg { return Arg{uint64(v)} }

// Float32Arg passes a float.
func Float32Arg(v float32) Arg { return Arg{uint64(math.Float32bits(v))} }

// Float64Arg passes a double.
func Float64Arg(v float64) Arg { return Arg{math.Float64bits(v)} }
