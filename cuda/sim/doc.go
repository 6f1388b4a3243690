// Package sim is the CUDA simulator as a device.Device: the simulator of
// kernels/sim and the kernels of kernels/*.cu, compiled by g++ through cgo
// (build tag cudasim), behind the same interface as the real driver, so that
// the CUDA backend runs unchanged on the CPU in CI.
//
// The package compiles C++ by translation units that include the sources
// (the *_gen.cc files, written by kernels/gen): the simulator's *.cc files,
// each kernels/*.cu, and the registration of every kernel with the
// simulator. Without the cudasim tag the package is empty.
//
// Host-side checks the real driver also makes are made here before the
// simulator is reached: copies and memsets must stay inside one live
// allocation, frees must name one, and launches must fit the device limits.
// The simulator itself checks device-side faults (out-of-bounds accesses
// through guard zones, and AddressSanitizer under go test -asan; shared
// memory races; misaligned vector loads; divergent collectives) and fails
// the launch with its message.
//
// InjectFaults makes the device fail its Nth allocation, launch, copy or
// pinned allocation (faults.go), so that the error paths above it (the
// caching pool, the CUDA backend, the scheduler) are tested on the device
// itself; Live reports what the device still holds.
package sim
