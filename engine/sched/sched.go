package sched

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/mempool"
)

// ErrClosed is the error of work submitted to a closed scheduler, or
// dropped from the queues by Close.
var ErrClosed = errors.New("sched: scheduler closed")

// Memory is a device's memory as the scheduler uses it: every workload's
// buffers (Workload.Footprint) are reserved on its stream before it runs
// and released on that stream after, and Close empties its cache.
// *mempool.Pool[P] implements it.
type Memory interface {
	Reserve(sizes []int, s mempool.Stream) (release func(mempool.Stream) error, err error)
	EmptyCache() error
}

// BackendMemory is a Memory the engine's backend allocates its device
// buffers from itself (cuda/backend's Backend.Memory()). The scheduler
// reserves no footprint from it, since the backend's own allocations are
// the workload's memory and reserving the footprint as well would count it
// twice; Close still empties its cache.
type BackendMemory interface {
	Memory
	BackendAllocates()
}

// Device is one engine the scheduler places work on.
type Device struct {
	Engine *engine.Engine
	// Streams is the number of ordered executors on the device: work on
	// one stream runs in submission order, streams run concurrently.
	// 0 means 1.
	Streams int
	// Memory, when set, is the device's memory pool: a BackendMemory
	// (the CUDA backend's pool) is only emptied at Close; any other
	// Memory has each workload's footprint reserved from it while it runs
	// (the CPU backend, modelling the device memory a workload needs).
	Memory Memory
}

// Policy chooses the device of a workload that names none.
type Policy int

const (
	// LeastLoaded picks the device with the fewest queued and running
	// workloads (the lowest index on a tie).
	LeastLoaded Policy = iota
	// RoundRobin cycles through the devices in order.
	RoundRobin
)

func (p Policy) String() string {
	switch p {
	case LeastLoaded:
		return "least-loaded"
	case RoundRobin:
		return "round-robin"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Options configure New.
type Options struct {
	Devices []Device
	Policy  Policy
	// OnRecord, when set, receives the record of every workload the
	// scheduler queued, once it is done or dropped (from the goroutine that
	// completed it; it must not block). Submissions refused at once and
	// graph nodes failed by a dependency are not queued: their futures
	// hold their records.
	OnRecord func(Record)
}

// Scheduler runs workloads on the streams of its devices. It is safe for
// concurrent use. It does not own the engines: close them after Close.
type Scheduler struct {
	devs     []*device
	policy   Policy
	onRecord func(Record)
	rr       atomic.Uint64
	ids      atomic.Uint64
	stop     chan struct{}
	workers  sync.WaitGroup

	mu       sync.Mutex
	closing  bool // external submissions refused; the queues drain
	aborting bool // every submission refused; queued work dropped
	closed   bool
	inflight int           // submitted and not yet complete
	drained  chan struct{} // closed when inflight reaches 0 while closing
}

type device struct {
	idx     int
	name    string
	e       *engine.Engine
	mem     Memory
	reserve bool // reserve footprints from mem (not a BackendMemory)
	streams []*stream
	load    atomic.Int64
}

// New starts a scheduler: one goroutine per stream of every device.
func New(opts Options) (*Scheduler, error) {
	if len(opts.Devices) == 0 {
		return nil, errs.Argument("sched.New", "no devices")
	}
	if opts.Policy != LeastLoaded && opts.Policy != RoundRobin {
		return nil, errs.Argument("sched.New", "unknown policy %d", int(opts.Policy))
	}
	s := &Scheduler{policy: opts.Policy, onRecord: opts.OnRecord, stop: make(chan struct{})}
	for i, d := range opts.Devices {
		if d.Engine == nil {
			return nil, errs.Argument("sched.New", "device %d has no engine", i)
		}
		if d.Streams < 0 {
			return nil, errs.Argument("sched.New", "device %d: streams must be >= 0, got %d", i, d.Streams)
		}
		_, own := d.Memory.(BackendMemory)
		dev := &device{idx: i, name: d.Engine.Backend(), e: d.Engine, mem: d.Memory, reserve: d.Memory != nil && !own}
		for k := range max(d.Streams, 1) {
			dev.streams = append(dev.streams, &stream{dev: dev, idx: k, wake: make(chan struct{}, 1)})
		}
		s.devs = append(s.devs, dev)
	}
	for _, d := range s.devs {
		for _, st := range d.streams {
			s.workers.Add(1)
			go func() {
				defer s.workers.Done()
				st.loop(s)
			}()
		}
	}
	return s, nil
}

// SubmitOption places or names one submission.
type SubmitOption func(*placement)

// placement is where a workload goes; -1 means the scheduler chooses.
type placement struct {
	name           string
	device, stream int
}

// OnDevice places the workload on device d (its stream chosen by load).
func OnDevice(d int) SubmitOption { return func(p *placement) { p.device = d } }

// OnStream places the workload on stream st of device d.
func OnStream(d, st int) SubmitOption {
	return func(p *placement) { p.device, p.stream = d, st }
}

// Named names the workload in its record (default: its kind).
func Named(name string) SubmitOption { return func(p *placement) { p.name = name } }

// Submit queues w and returns at once. The workload runs on a stream of a
// device chosen by the options or the policy. Cancelling ctx drops it
// while queued; once running it finishes and its result is discarded
// (the future's error is then ctx's).
func (s *Scheduler) Submit(ctx context.Context, w Workload, opts ...SubmitOption) *Future {
	p := placement{device: -1, stream: -1}
	for _, o := range opts {
		o(&p)
	}
	f := newFuture(w, p.name)
	s.submit(ctx, f, p, false, nil)
	return f
}

// task is a future on its way through a stream.
type task struct {
	f      *Future
	ctx    context.Context
	state  atomic.Int32
	dev    *device
	st     *stream
	stop   func() bool   // unregisters the cancellation callback
	onDone func(*Future) // graph hook, run after the future resolves
}

const (
	queued int32 = iota
	running
	dropped
)

// submit queues f; internal submissions (graph nodes whose inputs just
// became ready) are accepted while the scheduler drains. onDone runs once f
// resolves, whatever happens.
func (s *Scheduler) submit(ctx context.Context, f *Future, p placement, internal bool, onDone func(*Future)) {
	f.rec.ID = s.ids.Add(1)
	f.rec.Submitted = time.Now()
	reject := func(err error) {
		f.resolve(err)
		if onDone != nil {
			onDone(f)
		}
	}
	if ctx == nil || f.w == nil {
		reject(errs.Argument("sched.Submit", "nil context or workload"))
		return
	}
	dev, st, err := s.place(p)
	if err != nil {
		reject(err)
		return
	}
	s.mu.Lock()
	if s.aborting || s.closed || (s.closing && !internal) {
		s.mu.Unlock()
		reject(ErrClosed)
		return
	}
	s.inflight++
	s.mu.Unlock()

	t := &task{f: f, ctx: ctx, dev: dev, st: st, onDone: onDone}
	f.rec.Device, f.rec.DeviceName, f.rec.Stream = dev.idx, dev.name, st.idx
	dev.load.Add(1)
	st.load.Add(1)
	// Registered before the task is visible to the stream, so that t.stop
	// is set when the stream reads it.
	t.stop = context.AfterFunc(ctx, func() {
		if t.state.CompareAndSwap(queued, dropped) {
			s.complete(t, fmt.Errorf("sched: %s dropped before it ran: %w", f.rec.Name, context.Cause(ctx)))
		}
	})
	st.push(t)
}

// place chooses the device and stream.
func (s *Scheduler) place(p placement) (*device, *stream, error) {
	var d *device
	switch {
	case p.device >= len(s.devs) || p.device < -1:
		return nil, nil, errs.Argument("sched.Submit", "device %d out of range [0, %d)", p.device, len(s.devs))
	case p.device >= 0:
		d = s.devs[p.device]
	case s.policy == RoundRobin:
		d = s.devs[(s.rr.Add(1)-1)%uint64(len(s.devs))]
	default:
		d = s.devs[0]
		for _, o := range s.devs[1:] {
			if o.load.Load() < d.load.Load() {
				d = o
			}
		}
	}
	if p.stream >= len(d.streams) || p.stream < -1 {
		return nil, nil, errs.Argument("sched.Submit", "stream %d out of range [0, %d) on device %d", p.stream, len(d.streams), d.idx)
	}
	if p.stream >= 0 {
		return d, d.streams[p.stream], nil
	}
	st := d.streams[0]
	for _, o := range d.streams[1:] {
		if o.load.Load() < st.load.Load() {
			st = o
		}
	}
	return d, st, nil
}

// execute runs a task its stream took from the queue.
func (s *Scheduler) execute(t *task) {
	if !t.state.CompareAndSwap(queued, running) {
		return // dropped: already completed
	}
	t.stop()
	f := t.f
	f.rec.Started = time.Now()
	if err := t.ctx.Err(); err != nil {
		f.rec.Started = time.Time{}
		s.complete(t, fmt.Errorf("sched: %s dropped before it ran: %w", f.rec.Name, context.Cause(t.ctx)))
		return
	}
	err := s.run(t)
	if err == nil && t.ctx.Err() != nil {
		err = fmt.Errorf("sched: %s finished after cancellation, result discarded: %w", f.rec.Name, context.Cause(t.ctx))
	}
	f.rec.Finished = time.Now()
	if err == nil {
		f.rec.Bytes = f.w.Bytes()
	}
	s.complete(t, err)
}

// run reserves the workload's memory, runs it and releases the memory. A
// panicking workload fails instead of taking the stream down. The context
// tells the backend the stream index (a backend with device streams keeps
// each index on one of them) and collects the device time it measures.
func (s *Scheduler) run(t *task) (err error) {
	ms := mempool.Stream(t.st.idx)
	if t.dev.reserve {
		release, rerr := t.dev.mem.Reserve(t.f.w.Footprint(), ms)
		if rerr != nil {
			return fmt.Errorf("sched: %s: device memory: %w", t.f.rec.Name, rerr)
		}
		defer func() { err = errors.Join(err, release(ms)) }()
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sched: %s panicked: %v", t.f.rec.Name, r)
		}
	}()
	timing := &backend.Timing{}
	defer func() { t.f.rec.DeviceTime = timing.Total() }()
	ctx := backend.WithTiming(backend.WithStream(t.ctx, t.st.idx), timing)
	return t.f.w.Run(ctx, t.dev.e)
}

// complete resolves a task that was queued (run or dropped).
func (s *Scheduler) complete(t *task, err error) {
	t.dev.load.Add(-1)
	t.st.load.Add(-1)
	t.f.resolve(err)
	if s.onRecord != nil {
		s.onRecord(t.f.rec)
	}
	if t.onDone != nil {
		t.onDone(t.f)
	}
	// Last, so that the dependents the hook submitted keep the scheduler
	// from looking drained.
	s.mu.Lock()
	s.inflight--
	if s.inflight == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
}

// Close stops the scheduler. It refuses new submissions and waits for the
// queued and running work (graphs included) to finish; if ctx is done
// first, it drops what is still queued (ErrClosed), waits only for the
// running work and returns ctx's error. Then it stops the streams and
// empties the devices' memory caches. Engines stay open.
func (s *Scheduler) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed || s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closing = true
	drained := s.drainedLocked()
	s.mu.Unlock()

	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = ctx.Err()
		s.mu.Lock()
		s.aborting = true
		s.mu.Unlock()
		for _, d := range s.devs {
			for _, st := range d.streams {
				for _, t := range st.takeAll() {
					if t.state.CompareAndSwap(queued, dropped) {
						t.stop()
						s.complete(t, fmt.Errorf("sched: %s dropped: %w", t.f.rec.Name, ErrClosed))
					}
				}
			}
		}
		<-drained
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.workers.Wait()
	for _, d := range s.devs {
		if d.mem != nil {
			if cerr := d.mem.EmptyCache(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("sched: device %d: %w", d.idx, cerr))
			}
		}
	}
	return err
}

// drainedLocked returns a channel closed once nothing is in flight.
func (s *Scheduler) drainedLocked() chan struct{} {
	ch := make(chan struct{})
	if s.inflight == 0 {
		close(ch)
	} else {
		s.drained = ch
	}
	return ch
}

// Load is the number of workloads queued or running on device d.
func (s *Scheduler) Load(d int) int64 { return s.devs[d].load.Load() }

// Devices is the number of devices.
func (s *Scheduler) Devices() int { return len(s.devs) }

// Streams is the number of streams of device d.
func (s *Scheduler) Streams(d int) int { return len(s.devs[d].streams) }
