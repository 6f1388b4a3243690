package sched_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/sched/internal/schedtest"
	"github.com/matmix/matmix/engine/sparse"
)

// Shorthands for the shared helpers of package schedtest.
type checked = schedtest.Checked

var (
	floatTensor  = schedtest.FloatTensor
	glaGates     = schedtest.GLAGates
	newMonarch   = schedtest.NewMonarch
	newGLA       = schedtest.NewGLA
	newW4A4      = schedtest.NewW4A4
	newSpGEMM    = schedtest.NewSpGEMM
	newAny       = schedtest.NewAny
	checkMonarch = schedtest.CheckMonarch
	checkGLA     = schedtest.CheckGLA
	checkW4A4    = schedtest.CheckW4A4
	checkSpGEMM  = schedtest.CheckSpGEMM[float64]
)

// cpuEngine opens a CPU engine of the given threads, closed with the test.
func cpuEngine(t testing.TB, threads int) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.WithBackend("cpu"), engine.WithThreads(threads))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

// newSched starts a scheduler and closes it (draining) with the test.
func newSched(t testing.TB, opts sched.Options) *sched.Scheduler {
	t.Helper()
	s, err := sched.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// faultBackend is the CPU backend failing its nth call (1-based) with a
// device error: fault injection for a launch failure.
type faultBackend struct {
	backend.Backend
	n     int64
	calls atomic.Int64
}

var errInjected = errs.Device("fault", nil, "injected launch failure")

func newFaultEngine(n int) *engine.Engine {
	return engine.New(&faultBackend{Backend: cpu.New(1), n: int64(n)})
}

func (b *faultBackend) fail() error {
	if b.calls.Add(1) == b.n {
		return errInjected
	}
	return nil
}

func (b *faultBackend) MonarchForward(ctx context.Context, a backend.MonarchArgs) error {
	if err := b.fail(); err != nil {
		return err
	}
	return b.Backend.MonarchForward(ctx, a)
}

func (b *faultBackend) GLAForward(ctx context.Context, a backend.GLAArgs) error {
	if err := b.fail(); err != nil {
		return err
	}
	return b.Backend.GLAForward(ctx, a)
}

func (b *faultBackend) W4A4GEMM(ctx context.Context, a backend.W4A4Args) error {
	if err := b.fail(); err != nil {
		return err
	}
	return b.Backend.W4A4GEMM(ctx, a)
}

func (b *faultBackend) SpGEMM64(ctx context.Context, x, y *sparse.CSR[float64], o backend.SpGEMMOptions) (*sparse.CSR[float64], error) {
	if err := b.fail(); err != nil {
		return nil, err
	}
	return b.Backend.SpGEMM64(ctx, x, y, o)
}

// gate is a workload that signals when it starts and runs until released
// or, when it honours its context, until that is cancelled.
type gate struct {
	started chan struct{}
	release chan struct{}
	honour  bool
}

func newGate(honour bool) *gate {
	return &gate{started: make(chan struct{}), release: make(chan struct{}), honour: honour}
}

func (g *gate) Kind() string { return "gate" }

func (g *gate) Run(ctx context.Context, _ *engine.Engine) error {
	close(g.started)
	if !g.honour {
		<-g.release
		return nil
	}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) SetInput(string, any) error { return errs.Argument("gate", "no inputs") }
func (g *gate) Output(string) (any, error) { return nil, errs.Argument("gate", "no outputs") }
func (g *gate) Footprint() []int           { return []int{4096} }
func (g *gate) Bytes() int64               { return 0 }

// newSquareCSR is an n x n random sparse matrix.
func newSquareCSR(t testing.TB, r *rand.Rand, n int) *sparse.CSR[float64] {
	return conformance.RandomCSR(t, r, n, n, 0.3, true)
}
