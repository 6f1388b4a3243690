package backend

import (
	"context"
	"errors"
	"time"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool"
	"github.com/matmix/matmix/engine/tensor"
)

// call is one backend operation on its stream slot: every device buffer
// it takes from the pool, every copy staged through the slot's pinned
// buffer and queued on the stream, every kernel queued there. It is the
// device.Device the kernel wrappers launch on (Launch, timed with events
// when the context collects device time; the rest is the backend's
// device). end waits for the stream once, copies the results out of the
// staging buffer and frees everything, whatever happened.
type call struct {
	device.Device
	b       *Backend
	sl      *slot
	indexed bool
	s       device.Stream
	ms      mempool.Stream
	timing  *backend.Timing

	blocks    []device.Ptr
	off       int        // staging bytes in use by queued copies
	downloads []download // device-to-host copies waiting in staging
	staged    bool       // some copy went through staging
	allocs    int        // pinned allocations made
	grown     int64      // change in pinned bytes
	marks     []mark     // event pairs around timed operations
	nev       int        // slot events in use
	copyBytes int64
}

// download is a result in staging[off:off+len(dst)] once the stream is done.
type download struct {
	dst []byte
	off int
}

// mark is an event pair around one kernel or copy.
type mark struct {
	start, end device.Event
	copy       bool
}

// stagingAlign keeps staged regions aligned for the copy engines.
const stagingAlign = 256

// begin starts a call on the stream the context's index maps onto, or a
// free one.
func (b *Backend) begin(ctx context.Context) (*call, error) {
	if b.mem == nil {
		return nil, errs.Device("cuda", nil, "backend has no device")
	}
	idx, indexed := backend.StreamFrom(ctx)
	sl, err := b.streams.acquire(idx, indexed)
	if err != nil {
		return nil, err
	}
	return &call{Device: b.d, b: b, sl: sl, indexed: indexed, s: sl.s, ms: mempool.Stream(sl.s),
		timing: backend.TimingFrom(ctx)}, nil
}

// end finishes the call: it waits for the stream (the staging buffer and
// the results must be complete before the host reads or reuses them, also
// after a failure), copies the downloads out, adds the device time, frees
// the blocks to the pool on the call's stream and releases the slot. err
// is the call's error so far; the result joins what end meets.
func (c *call) end(err error) error {
	if serr := c.Sync(c.s); serr != nil {
		err = errors.Join(err, errs.Device("cuda", serr, "sync of stream %#x", uintptr(c.s)))
	}
	if err == nil {
		c.flush()
		err = c.measure()
	}
	for _, p := range c.blocks {
		err = errors.Join(err, c.b.mem.Free(p, c.ms))
	}
	if c.staged {
		c.b.streams.count(c.allocs, c.grown)
	}
	c.b.streams.release(c.sl, c.indexed)
	return err
}

// alloc returns a device buffer of n bytes (at least one) from the pool.
func (c *call) alloc(n int) (device.Ptr, error) {
	p, err := c.b.mem.Alloc(max(n, 1), c.ms)
	if err == nil {
		c.blocks = append(c.blocks, p)
	}
	return p, err
}

// upload copies host bytes to a new device buffer through staging.
func (c *call) upload(src []byte) (device.Ptr, error) {
	p, err := c.alloc(len(src))
	if err != nil || len(src) == 0 {
		return p, err
	}
	region, _, err := c.stage(len(src))
	if err != nil {
		return 0, err
	}
	copy(region, src)
	c.copyBytes += int64(len(src))
	return p, c.timed(true, func() error { return c.CopyHtoDAsync(p, region, c.s) })
}

// download queues the copy of len(dst) bytes at src into staging; end
// moves them to dst once the stream is done.
func (c *call) download(dst []byte, src device.Ptr) error {
	if len(dst) == 0 {
		return nil
	}
	region, off, err := c.stage(len(dst))
	if err != nil {
		return err
	}
	c.downloads = append(c.downloads, download{dst: dst, off: off})
	c.copyBytes += int64(len(dst))
	return c.timed(true, func() error { return c.CopyDtoHAsync(region, src, c.s) })
}

// stage returns the next n bytes of the slot's pinned buffer and their
// offset in it. When they do
// not fit, the copies in flight are waited for and the buffer is replaced
// by one twice as large (or n), which later calls on the slot reuse.
func (c *call) stage(n int) ([]byte, int, error) {
	c.staged = true
	sl := c.sl
	if c.off+n > len(sl.staging) {
		if c.off > 0 {
			if err := c.wait(); err != nil {
				return nil, 0, err
			}
		}
		size := roundUp(max(2*len(sl.staging), n), 64<<10)
		buf, err := c.HostAlloc(size)
		if err != nil {
			return nil, 0, errs.Device("cuda", err, "pinned staging buffer of %d bytes", size)
		}
		if sl.staging != nil {
			if err := c.HostFree(sl.staging); err != nil {
				return nil, 0, errors.Join(errs.Device("cuda", err, "free of the pinned staging buffer"), c.HostFree(buf))
			}
		}
		c.grown += int64(size - len(sl.staging))
		sl.staging = buf
		c.allocs++
	}
	off := c.off
	region := sl.staging[off : off+n : off+n]
	c.off = min(roundUp(off+n, stagingAlign), len(sl.staging))
	return region, off, nil
}

// wait blocks until the call's queued work is done and its downloads are
// in place (SpGEMM's counts must reach the host before C is sized).
func (c *call) wait() error {
	if err := c.Sync(c.s); err != nil {
		return errs.Device("cuda", err, "sync of stream %#x", uintptr(c.s))
	}
	c.flush()
	return nil
}

// flush copies the completed downloads out of staging; the stream must
// be done. The staging buffer is free again.
func (c *call) flush() {
	for _, d := range c.downloads {
		copy(d.dst, c.sl.staging[d.off:])
	}
	c.downloads = c.downloads[:0]
	c.off = 0
}

// Launch queues a kernel on the call's stream, between events when timed.
func (c *call) Launch(kernel string, grid, block device.Dim3, smem int, s device.Stream, args ...device.Arg) error {
	return c.timed(false, func() error { return c.Device.Launch(kernel, grid, block, smem, s, args...) })
}

// timed runs op, which queues one kernel or copy on the stream, between
// two events when the context collects device time.
func (c *call) timed(isCopy bool, op func() error) error {
	if c.timing == nil {
		return op()
	}
	start, err := c.event()
	if err != nil {
		return err
	}
	if err := op(); err != nil {
		return err
	}
	end, err := c.event()
	if err != nil {
		return err
	}
	c.marks = append(c.marks, mark{start: start, end: end, copy: isCopy})
	return nil
}

// event records the slot's next event on the stream, creating it on
// first need.
func (c *call) event() (device.Event, error) {
	sl := c.sl
	if c.nev == len(sl.events) {
		e, err := c.NewEvent()
		if err != nil {
			return 0, errs.Device("cuda", err, "new event")
		}
		sl.events = append(sl.events, e)
	}
	e := sl.events[c.nev]
	c.nev++
	if err := c.Record(e, c.s); err != nil {
		return 0, errs.Device("cuda", err, "event record")
	}
	return e, nil
}

// measure adds the call's device time (the stream is done) to the
// context's Timing.
func (c *call) measure() error {
	if c.timing == nil || len(c.marks) == 0 {
		return nil
	}
	t := backend.DeviceTime{CopyBytes: c.copyBytes, Calls: 1}
	elapsed := func(a, b device.Event) (time.Duration, error) {
		d, err := c.Elapsed(a, b)
		if err != nil {
			return 0, errs.Device("cuda", err, "event elapsed time")
		}
		return d, nil
	}
	for _, m := range c.marks {
		d, err := elapsed(m.start, m.end)
		if err != nil {
			return err
		}
		if m.copy {
			t.Copies += d
		} else {
			t.Kernels += d
		}
	}
	span, err := elapsed(c.marks[0].start, c.marks[len(c.marks)-1].end)
	if err != nil {
		return err
	}
	t.Span = span
	c.timing.Add(t)
	return nil
}

func roundUp(n, step int) int { return (n + step - 1) / step * step }

// hostBytes views a float32, float16, bfloat16, int32 or int64 host
// tensor's storage as bytes.
func hostBytes(t *tensor.Tensor) ([]byte, error) {
	switch t.DType() {
	case tensor.Float32:
		return device.Bytes(t.Float32()), nil
	case tensor.Float16:
		return device.Bytes(t.Float16()), nil
	case tensor.BFloat16:
		return device.Bytes(t.BFloat16()), nil
	case tensor.Int32:
		return device.Bytes(t.Int32()), nil
	case tensor.Int64:
		return device.Bytes(t.Int64()), nil
	}
	return nil, errs.Unsupported("cuda", "no device copy for %v", t.DType())
}

// uploadTensor copies a float32, float16 or bfloat16 host tensor to a new
// device buffer.
func uploadTensor(c *call, t *tensor.Tensor) (device.Ptr, error) {
	src, err := hostBytes(t)
	if err != nil {
		return 0, err
	}
	return c.upload(src)
}

// downloadTensor copies a device buffer into a float32, float16 or
// bfloat16 host tensor (when the call ends).
func downloadTensor(c *call, t *tensor.Tensor, p device.Ptr) error {
	dst, err := hostBytes(t)
	if err != nil {
		return err
	}
	return c.download(dst, p)
}
