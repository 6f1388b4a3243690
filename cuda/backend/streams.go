package backend

import (
	"errors"
	"sync"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/errs"
)

// slot is one device stream of the backend with what a call keeps on it
// between calls: the pinned staging buffer and the timing events. One call
// holds a slot at a time (mu), so the staging buffer and the events need
// no other lock.
type slot struct {
	mu      sync.Mutex
	s       device.Stream
	staging []byte         // pinned host memory (Device.HostAlloc), grown as needed
	events  []device.Event // created as calls need them, reused
}

// streamPool hands out slots: the slot of a stream index (package sched's
// stream on this device, from the context), so that the work of one index
// stays in order on one device stream, or, for a call with none, a free
// slot of its own, so that concurrent callers overlap. Slots and their
// device streams are created on first need and live until close.
type streamPool struct {
	d device.Device

	mu      sync.Mutex
	indexed map[int]*slot
	free    []*slot // anonymous slots not in use
	all     []*slot
	stats   StagingStats
}

// StagingStats count the pinned staging buffers' use.
type StagingStats struct {
	HostAllocs int64 // pinned buffers allocated (a stream's first, or a larger one)
	Reuses     int64 // calls that staged their copies without allocating
	Bytes      int64 // pinned bytes held now
}

func newStreamPool(d device.Device) *streamPool {
	return &streamPool{d: d, indexed: map[int]*slot{}}
}

// acquire returns the slot for a call, locked; release gives it back.
func (p *streamPool) acquire(idx int, indexed bool) (*slot, error) {
	p.mu.Lock()
	var sl *slot
	switch {
	case indexed:
		sl = p.indexed[idx]
	case len(p.free) > 0:
		sl = p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
	}
	if sl == nil {
		s, err := p.d.NewStream()
		if err != nil {
			p.mu.Unlock()
			return nil, errs.Device("cuda", err, "new stream")
		}
		sl = &slot{s: s}
		p.all = append(p.all, sl)
		if indexed {
			p.indexed[idx] = sl
		}
	}
	p.mu.Unlock()
	sl.mu.Lock()
	return sl, nil
}

// release unlocks sl and, when anonymous, returns it to the free list.
func (p *streamPool) release(sl *slot, indexed bool) {
	sl.mu.Unlock()
	if !indexed {
		p.mu.Lock()
		p.free = append(p.free, sl)
		p.mu.Unlock()
	}
}

// count updates the staging statistics: a call that staged its copies,
// the host allocations it made and the change in pinned bytes.
func (p *streamPool) count(allocs int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if allocs == 0 {
		p.stats.Reuses++
	}
	p.stats.HostAllocs += int64(allocs)
	p.stats.Bytes += bytes
}

// Staging returns the pinned staging buffers' statistics.
func (b *Backend) Staging() StagingStats {
	b.streams.mu.Lock()
	defer b.streams.mu.Unlock()
	return b.streams.stats
}

// Streams is the number of device streams the backend has created.
func (b *Backend) Streams() int {
	b.streams.mu.Lock()
	defer b.streams.mu.Unlock()
	return len(b.streams.all)
}

// close waits for every stream, then destroys the events, the pinned
// buffers and the streams; errors are joined.
func (p *streamPool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	for _, sl := range p.all {
		err = errors.Join(err, p.d.Sync(sl.s))
		for _, e := range sl.events {
			err = errors.Join(err, p.d.DestroyEvent(e))
		}
		if sl.staging != nil {
			err = errors.Join(err, p.d.HostFree(sl.staging))
			p.stats.Bytes -= int64(len(sl.staging))
		}
		err = errors.Join(err, p.d.DestroyStream(sl.s))
	}
	p.all, p.free = nil, nil
	clear(p.indexed)
	return err
}
