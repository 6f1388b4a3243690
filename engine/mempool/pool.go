// Package mempool is a caching device-memory allocator in the manner of
// PyTorch's CUDA caching allocator: freed blocks are kept, by size class and
// by stream, and handed out again without a call to the device; the device
// is asked only on a miss. See docs/runtime.md for the model.
//
// The device side is the small Allocator interface, generic over the
// pointer type, so that cuda/device.Device satisfies it as it is
// (mempool.New[device.Ptr](dev, opts)) and this package depends on no
// backend.
package mempool

import (
	"errors"
	"slices"
	"sync"

	"github.com/matmix/matmix/engine/errs"
)

// Allocator is the memory a Pool caches: a device's raw allocation calls.
// Implementations must be safe for concurrent use.
type Allocator[P ~uint64] interface {
	Alloc(bytes int) (P, error)
	Free(p P) error
}

// Stream names the ordered queue of device work a block was last used on
// (a CUDA stream, or a scheduler's stream index).
type Stream uint64

// Options configure a Pool.
type Options struct {
	// Limit bounds the bytes the pool holds from the device (in use plus
	// cached); 0 means no limit. A request that would pass it first frees
	// the cache, then fails with errs.ErrLimit.
	Limit int64
	// Sync waits until the work queued so far on a stream is done. A block
	// freed on stream s is reusable on s at once (later work on s is
	// ordered after the free) but on another stream only after Sync(s).
	// Nil means blocks never move between streams (the safe default);
	// NoSync suits devices whose work is complete when Free is called.
	Sync func(s Stream) error
}

// NoSync is Options.Sync for synchronous devices (the CPU backend, a device
// whose calls return when the work is done): there is nothing to wait for.
func NoSync(Stream) error { return nil }

// Pool is a caching allocator over an Allocator. It is safe for concurrent
// use.
type Pool[P ~uint64] struct {
	dev  Allocator[P]
	opts Options

	mu    sync.Mutex
	live  map[P]int              // handed-out block -> its size class
	cache map[int]map[Stream][]P // size class -> stream -> free blocks (LIFO)
	st    Stats
}

// New returns a pool over dev.
func New[P ~uint64](dev Allocator[P], opts Options) (*Pool[P], error) {
	if dev == nil {
		return nil, errs.Argument("mempool.New", "nil allocator")
	}
	if opts.Limit < 0 {
		return nil, errs.Argument("mempool.New", "limit must be >= 0, got %d", opts.Limit)
	}
	return &Pool[P]{dev: dev, opts: opts, live: map[P]int{}, cache: map[int]map[Stream][]P{}}, nil
}

// Alloc returns a block of at least bytes bytes for use on stream s: a
// cached one of the same size class when there is one (a hit), else a new
// one from the device (a miss). When the device is out of memory the pool
// frees its cache and retries once; a second failure is errs.ErrDevice
// wrapping the device's error, and passing Options.Limit is errs.ErrLimit.
func (p *Pool[P]) Alloc(bytes int, s Stream) (P, error) {
	size, err := RoundSize(bytes)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	p.st.Allocs++
	if b, ok := p.take(size, s); ok {
		p.hand(b, size)
		p.st.Hits++
		p.mu.Unlock()
		return b, nil
	}
	if p.opts.Sync != nil {
		if b, other, ok := p.takeOther(size, s); ok {
			// Sync may wait for stream work that itself frees into this
			// pool, so it runs without the lock; the block is off the
			// cache meanwhile, so nobody else takes it.
			p.mu.Unlock()
			serr := p.opts.Sync(other)
			p.mu.Lock()
			defer p.mu.Unlock()
			if serr != nil {
				p.put(b, size, other)
				p.st.Failures++
				return 0, errs.Device("mempool", serr, "sync of stream %d before reusing its block", other)
			}
			p.hand(b, size)
			p.st.Hits++
			p.st.CrossStream++
			return b, nil
		}
	}
	defer p.mu.Unlock()
	p.st.Misses++
	b, err := p.grow(size)
	if err != nil {
		p.st.Failures++
		return 0, err
	}
	p.hand(b, size)
	return b, nil
}

// grow allocates a new block from the device, within the limit, freeing
// the cache and retrying once when the device is out of memory.
func (p *Pool[P]) grow(size int) (P, error) {
	if lim := p.opts.Limit; lim > 0 && p.st.InUse+p.st.Cached+int64(size) > lim {
		ferr := p.release()
		if p.st.InUse+int64(size) > lim {
			return 0, errors.Join(errs.Limit("mempool", "allocating %d bytes would pass the limit of %d bytes (%d in use)", size, lim, p.st.InUse), ferr)
		}
	}
	b, err := p.dev.Alloc(size)
	if err == nil {
		p.st.DeviceAllocs++
		return b, nil
	}
	p.st.Retries++
	ferr := p.release()
	b, err2 := p.dev.Alloc(size)
	if err2 == nil {
		p.st.DeviceAllocs++
		return b, nil
	}
	return 0, errors.Join(errs.Device("mempool", err2, "allocating %d bytes (%d in use, cache freed and retried)", size, p.st.InUse), ferr)
}

// Free returns block b, last used on stream s, to the cache.
func (p *Pool[P]) Free(b P, s Stream) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	size, ok := p.live[b]
	if !ok {
		return errs.Argument("mempool", "free of %#x: not allocated by this pool, or already freed", uint64(b))
	}
	delete(p.live, b)
	p.st.InUse -= int64(size)
	p.st.Frees++
	p.put(b, size, s)
	return nil
}

// EmptyCache returns every cached block to the device; blocks in use stay.
func (p *Pool[P]) EmptyCache() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.release()
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool[P]) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// take pops a cached block of the class freed on s.
func (p *Pool[P]) take(size int, s Stream) (P, bool) {
	list := p.cache[size][s]
	if len(list) == 0 {
		return 0, false
	}
	b := list[len(list)-1]
	p.cache[size][s] = list[:len(list)-1]
	p.st.Cached -= int64(size)
	return b, true
}

// takeOther pops a cached block of the class freed on another stream, the
// lowest-numbered such stream first (deterministic).
func (p *Pool[P]) takeOther(size int, s Stream) (P, Stream, bool) {
	var streams []Stream
	for o, list := range p.cache[size] {
		if o != s && len(list) > 0 {
			streams = append(streams, o)
		}
	}
	if len(streams) == 0 {
		return 0, 0, false
	}
	o := slices.Min(streams)
	b, _ := p.take(size, o)
	return b, o, true
}

// put caches block b of the class as freed on s.
func (p *Pool[P]) put(b P, size int, s Stream) {
	m := p.cache[size]
	if m == nil {
		m = map[Stream][]P{}
		p.cache[size] = m
	}
	m[s] = append(m[s], b)
	p.st.Cached += int64(size)
}

// hand marks b as in use.
func (p *Pool[P]) hand(b P, size int) {
	p.live[b] = size
	p.st.InUse += int64(size)
	p.st.Peak = max(p.st.Peak, p.st.InUse)
	p.st.PeakReserved = max(p.st.PeakReserved, p.st.InUse+p.st.Cached)
}

// release frees every cached block to the device. A block the device fails
// to free is dropped from the cache all the same (the pool cannot use it
// again) and the errors are returned joined.
func (p *Pool[P]) release() error {
	var err error
	for size, m := range p.cache {
		for _, list := range m {
			for _, b := range list {
				if ferr := p.dev.Free(b); ferr != nil {
					err = errors.Join(err, errs.Device("mempool", ferr, "freeing cached block %#x", uint64(b)))
				}
				p.st.DeviceFrees++
				p.st.Cached -= int64(size)
			}
		}
	}
	clear(p.cache)
	return err
}
