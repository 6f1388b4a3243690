package mempool

import "errors"

// Reserve allocates one block per size for use on stream s, all or none:
// when one allocation fails, the blocks already made go back to the cache
// and the error is returned, so a caller's error path leaks nothing.
// release returns every block, as last used on the stream it is given.
// Its signature names no pointer type, so users that only need a
// workload's buffers reserved (package sched) take any Pool[P].
func (p *Pool[P]) Reserve(sizes []int, s Stream) (release func(Stream) error, err error) {
	blocks := make([]P, 0, len(sizes))
	release = func(on Stream) error {
		var err error
		for _, b := range blocks {
			err = errors.Join(err, p.Free(b, on))
		}
		blocks = nil
		return err
	}
	for _, n := range sizes {
		b, err := p.Alloc(n, s)
		if err != nil {
			return nil, errors.Join(err, release(s))
		}
		blocks = append(blocks, b)
	}
	return release, nil
}
