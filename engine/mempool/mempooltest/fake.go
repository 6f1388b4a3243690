// Package mempooltest is a fake device allocator for the tests of package
// mempool and its users: it hands out distinct addresses, bounds the
// memory, counts calls and fails on demand (fault injection).
package mempooltest

import (
	"errors"
	"fmt"
	"sync"
)

// ErrOutOfMemory is what Alloc returns beyond the capacity or when Fail
// says so.
var ErrOutOfMemory = errors.New("fake device: out of memory")

// Allocator is a fake device memory. The zero value has no capacity limit
// and never fails. It is safe for concurrent use.
type Allocator struct {
	// Capacity bounds the live bytes; 0 means no bound.
	Capacity int64
	// Fail, when set, is asked before every Alloc with the call's number
	// (1-based) and size; true makes the call fail with ErrOutOfMemory.
	Fail func(call, bytes int) bool

	mu    sync.Mutex
	next  uint64
	live  map[uint64]int
	used  int64
	calls int
}

// FailAt returns a Fail function that fails the nth Alloc call and every
// later one (a device that stays out of memory).
func FailAt(n int) func(call, bytes int) bool {
	return func(call, _ int) bool { return call >= n }
}

// FailOnce returns a Fail function that fails only the nth Alloc call.
func FailOnce(n int) func(call, bytes int) bool {
	return func(call, _ int) bool { return call == n }
}

// Alloc returns a fresh address for bytes bytes.
func (a *Allocator) Alloc(bytes int) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.Fail != nil && a.Fail(a.calls, bytes) {
		return 0, ErrOutOfMemory
	}
	if a.Capacity > 0 && a.used+int64(bytes) > a.Capacity {
		return 0, ErrOutOfMemory
	}
	if a.live == nil {
		a.live = map[uint64]int{}
		a.next = 1 << 20 // non-zero addresses, as a device's
	}
	p := a.next
	a.next += uint64(bytes) + 256
	a.live[p] = bytes
	a.used += int64(bytes)
	return p, nil
}

// Free releases p; freeing an unknown address is an error.
func (a *Allocator) Free(p uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, ok := a.live[p]
	if !ok {
		return fmt.Errorf("fake device: free of unknown address %#x", p)
	}
	delete(a.live, p)
	a.used -= int64(n)
	return nil
}

// Live is the number of blocks allocated and not freed.
func (a *Allocator) Live() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.live)
}

// Used is the live bytes.
func (a *Allocator) Used() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used
}

// Calls is the number of Alloc calls so far.
func (a *Allocator) Calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}
