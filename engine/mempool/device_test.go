package mempool_test

import (
	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/mempool"
)

// The CUDA backend's Device is a pool's allocator as it is: the interface
// lives here and the dependency stays one-way (this test only).
var _ mempool.Allocator[device.Ptr] = device.Device(nil)

// And the pool over it is what package sched takes as a device's memory.
var _ interface {
	Reserve([]int, mempool.Stream) (func(mempool.Stream) error, error)
} = (*mempool.Pool[device.Ptr])(nil)
