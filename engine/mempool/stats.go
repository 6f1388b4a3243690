package mempool

// Stats are a pool's counters (bytes are block sizes, after rounding).
type Stats struct {
	InUse        int64 // bytes handed out and not yet freed
	Cached       int64 // bytes held in the cache, free for reuse
	Peak         int64 // the highest InUse so far
	PeakReserved int64 // the highest InUse + Cached so far
	Allocs       int64 // Alloc calls
	Frees        int64 // Free calls that returned a block
	Hits         int64 // Allocs served from the cache
	Misses       int64 // Allocs that went to the device
	CrossStream  int64 // hits that reused another stream's block after a sync
	DeviceAllocs int64 // successful device allocations
	DeviceFrees  int64 // blocks returned to the device
	Retries      int64 // device allocations retried after freeing the cache
	Failures     int64 // Allocs that returned an error
}

// Reserved is the memory the pool holds from the device.
func (s Stats) Reserved() int64 { return s.InUse + s.Cached }

// HitRate is Hits / Allocs (0 before the first Alloc).
func (s Stats) HitRate() float64 {
	if s.Allocs == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Allocs)
}
