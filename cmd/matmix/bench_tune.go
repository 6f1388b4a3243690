package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/matmix/matmix/bench"
	"github.com/matmix/matmix/bench/report"
	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/tensor"
)

// tuner is bench's link to the CUDA backend for what the engine does not
// expose: the device's measured ceilings and the autotune cache. It holds a
// backend of its own on the engine's device (the same primary context on a
// GPU), opened without a cache: apply looks the winners up in bench's
// cache (--autotune-cache, with the shapes this run tunes), which the
// engine's backend, loading the default file at Open, may not have.
type tuner struct {
	b     *cudabackend.Backend
	cache *cudabackend.TuneCache
	path  string // where the cache is saved; empty: not saved (unreadable file)
	dev   string // the device's cache key
	tune  bool   // --autotune
	math  cudabackend.MonarchMath
	opts  cudabackend.TuneOptions
	dirty bool
	tuned []report.Tuned
}

// simCeilings are the sizes the ceilings are measured at on the simulator:
// tiny, because it runs every thread on the CPU; its figures only show that
// the path works.
var simCeilings = cudabackend.CeilingSizes{CopyBytes: 1 << 16, Blocks: 2, Threads: 64, Iters: 4, Runs: 1}

// openTuner returns nil on a backend other than cuda (where --autotune is
// an error). On cuda it loads the cache and puts the device's measured
// ceilings (from the cache, else measured now and cached) into dev, unless
// --peak-gflops or --peak-gbs gave ceilings; a failed measurement is a
// warning, the datasheet's estimates (if any) staying in dev.
func (f *benchFlags) openTuner(ctx context.Context, e *engine.Engine, dev *bench.DeviceInfo, stderr io.Writer) (*tuner, error) {
	if !strings.HasPrefix(e.Backend(), "cuda") {
		if f.autotune {
			return nil, benchErr("--autotune needs the cuda backend; this run uses %s (%s)", e.Backend(), e.Reason())
		}
		if f.math == "tf32" {
			return nil, benchErr("--math tf32 needs the cuda backend; this run uses %s (%s)", e.Backend(), e.Reason())
		}
		return nil, nil
	}
	t := &tuner{tune: f.autotune, path: f.tuneCache}
	if f.math == "tf32" {
		t.math = cudabackend.MonarchTF32
	}
	if f.quick {
		t.opts = cudabackend.TuneOptions{MinTime: 2 * time.Millisecond, Rounds: 3}
	}
	if t.path == "" {
		p, err := cudabackend.DefaultTuneCachePath()
		if err != nil && f.autotune {
			return nil, fmt.Errorf("bench: --autotune: %w", err)
		}
		t.path = p
	}
	cache, err := cudabackend.LoadTuneCache(t.path)
	if err != nil {
		// A cache that cannot be read must not be overwritten silently:
		// --autotune stops; otherwise the run goes on without it.
		if f.autotune {
			return nil, fmt.Errorf("bench: --autotune-cache: %w", err)
		}
		fmt.Fprintf(stderr, "matmix: warning: running without the autotune cache: %v\n", err)
		cache, t.path = cudabackend.NewTuneCache(), ""
	}
	t.cache = cache
	cb, err := cudabackend.Open(f.device, cudabackend.Options{})
	if err != nil {
		return nil, fmt.Errorf("bench: cuda device %d: %w", f.device, err)
	}
	t.b = cb
	t.dev = cudabackend.DeviceKey(cb.Device().Props())
	if f.peakGFLOPS > 0 || f.peakGBPS > 0 {
		return t, nil
	}
	c, ok := t.cache.Ceilings(t.dev)
	if !ok {
		var sz cudabackend.CeilingSizes
		if cb.Name() == "cuda:sim" {
			sz = simCeilings
		}
		if c, err = cb.MeasureCeilings(ctx, sz); err != nil {
			if ctx.Err() != nil {
				t.close()
				return nil, fmt.Errorf("bench: interrupted: %w", ctx.Err())
			}
			// The datasheet's estimates (if any) stay, labelled as such.
			fmt.Fprintf(stderr, "matmix: warning: the device's ceilings could not be measured: %v\n", err)
			return t, nil
		}
		t.cache.SetCeilings(t.dev, c)
		t.dirty = true
	}
	dev.Ceilings = &bench.Ceilings{FP32GFLOPS: c.FP32GFLOPS, INT8GOPS: c.INT8GOPS, TF32GFLOPS: c.TF32GFLOPS,
		F16GFLOPS: c.F16GFLOPS, BF16GFLOPS: c.BF16GFLOPS, GBPS: c.GBPS, Measured: true, Source: "measured on " + t.dev}
	return t, nil
}

// wrap makes the Monarch and GLA cases run the cached winner of their
// shape (tuning it first with --autotune) on the tuner's backend, and
// float32 Monarch with --math tf32 on the tensor cores (which the engine's
// API does not select).
func (t *tuner) wrap(cases []bench.Case) {
	if t == nil {
		return
	}
	for i := range cases {
		prepare := cases[i].Prepare
		cases[i].Prepare = func(ctx context.Context, r *rand.Rand) (*bench.Instance, error) {
			inst, err := prepare(ctx, r)
			if err != nil {
				return inst, err
			}
			if err := t.apply(ctx, inst); err != nil {
				if inst.Close != nil {
					inst.Close()
				}
				return nil, err
			}
			return inst, nil
		}
	}
}

// apply tunes the instance's shape when asked, then points its Run at the
// cached winner, if any.
func (t *tuner) apply(ctx context.Context, inst *bench.Instance) error {
	switch a := inst.Args.(type) {
	case backend.MonarchArgs:
		math := t.math
		if a.X.DType() != tensor.Float32 {
			math = cudabackend.MonarchPrecise // 16-bit operands: the tensor cores whatever the math
		}
		if t.tune {
			key, e, err := t.b.AutotuneMonarch(ctx, a, math, t.opts)
			if err != nil {
				return fmt.Errorf("autotune: %w", err)
			}
			t.record(key, e)
		}
		o, ok, err := t.b.TunedMonarchOptions(t.cache, a, cudabackend.MonarchOptions{Math: math})
		if err != nil || (!ok && o == cudabackend.MonarchOptions{}) {
			return err // nothing cached, the default arithmetic: the engine's own choice
		}
		p, err := t.b.MonarchPlanFor(a, o)
		if err != nil {
			return err
		}
		inst.Plan = cudabackend.MonarchPlanName(p)
		inst.Run = func(ctx context.Context) error { return t.b.MonarchForwardWith(ctx, a, o) }
	case backend.GLAArgs:
		if t.tune {
			key, e, err := t.b.AutotuneGLA(ctx, a, t.opts)
			if err != nil {
				return fmt.Errorf("autotune: %w", err)
			}
			t.record(key, e)
		}
		o, ok, err := t.b.TunedGLAOptions(t.cache, a, cudabackend.GLAOptions{})
		if err != nil || !ok {
			return err
		}
		p, err := t.b.GLAPlanFor(a, o)
		if err != nil {
			return err
		}
		inst.Plan = cudabackend.GLAPlanName(p)
		inst.Run = func(ctx context.Context) error { return t.b.GLAForwardWith(ctx, a, o) }
	}
	return nil
}

func (t *tuner) record(key string, e cudabackend.TuneEntry) {
	t.cache.Record(t.dev, key, e)
	t.dirty = true
	t.tuned = append(t.tuned, report.Tuned{Key: key, Plan: e.Plan, Seconds: e.Seconds, Timed: e.Timed})
}

// autotuned are the shapes tuned in this run.
func (t *tuner) autotuned() []report.Tuned {
	if t == nil {
		return nil
	}
	return t.tuned
}

// save writes the cache when this run added to it.
func (t *tuner) save() error {
	if t == nil || !t.dirty || t.path == "" {
		return nil
	}
	if err := t.cache.Save(t.path); err != nil {
		return fmt.Errorf("bench: writing the autotune cache: %w", err)
	}
	t.dirty = false
	return nil
}

func (t *tuner) close() {
	if t != nil && t.b != nil {
		t.b.Close()
	}
}
