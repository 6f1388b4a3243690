package sched

import (
	"sync"
	"sync/atomic"
)

// stream is an ordered executor: one goroutine runs its tasks one after the
// other, in submission order. It models a CUDA stream over an engine whose
// calls are synchronous (see docs/runtime.md for the CUDA streams).
type stream struct {
	dev  *device
	idx  int
	load atomic.Int64 // tasks queued or running

	mu   sync.Mutex
	q    []*task
	wake chan struct{} // capacity 1: a pending wake-up
}

// push queues t and wakes the goroutine. The queue is unbounded, so that
// completion hooks that submit dependents never block a stream.
func (st *stream) push(t *task) {
	st.mu.Lock()
	st.q = append(st.q, t)
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// pop returns the next task, or nil when the queue is empty.
func (st *stream) pop() *task {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.q) == 0 {
		return nil
	}
	t := st.q[0]
	st.q[0] = nil
	st.q = st.q[1:]
	return t
}

// takeAll empties the queue.
func (st *stream) takeAll() []*task {
	st.mu.Lock()
	defer st.mu.Unlock()
	q := st.q
	st.q = nil
	return q
}

// loop runs tasks until the scheduler stops; Close stops it only once
// nothing is in flight, so nothing runnable is left behind.
func (st *stream) loop(s *Scheduler) {
	for {
		if t := st.pop(); t != nil {
			s.execute(t)
			continue
		}
		select {
		case <-st.wake:
		case <-s.stop:
			return
		}
	}
}
