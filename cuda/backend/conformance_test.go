package backend_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// covered runs every operation on the CUDA backend and only what it
// refuses as unsupported on the CPU backend, counting what CUDA computed.
// The conformance suite checks every case of every workload, so the CUDA
// kernels' cases (float32 Monarch forward, float32 recurrent GLA and
// decode) go through the suite unchanged, and the rest is the CPU's.
type covered struct {
	cuda *cudabackend.Backend
	cpu  *cpu.Backend
	n    *counts
}

type counts struct{ monarch, gla, decode atomic.Int64 }

func (c covered) Name() string { return c.cuda.Name() }
func (c covered) Close() error { return c.cuda.Close() }

// either runs f on CUDA and, when CUDA does not support the case, g.
func either(n *atomic.Int64, f, g func() error) error {
	err := f()
	if errors.Is(err, errs.ErrUnsupported) {
		return g()
	}
	if err == nil {
		n.Add(1)
	}
	return err
}

func (c covered) MonarchForward(ctx context.Context, a backend.MonarchArgs) error {
	return either(&c.n.monarch, func() error { return c.cuda.MonarchForward(ctx, a) }, func() error { return c.cpu.MonarchForward(ctx, a) })
}
func (c covered) MonarchBackward(ctx context.Context, a backend.MonarchGradArgs) error {
	return c.cpu.MonarchBackward(ctx, a)
}
func (c covered) GLAForward(ctx context.Context, a backend.GLAArgs) error {
	return either(&c.n.gla, func() error { return c.cuda.GLAForward(ctx, a) }, func() error { return c.cpu.GLAForward(ctx, a) })
}
func (c covered) GLADecode(ctx context.Context, a backend.GLADecodeArgs) error {
	return either(&c.n.decode, func() error { return c.cuda.GLADecode(ctx, a) }, func() error { return c.cpu.GLADecode(ctx, a) })
}
func (c covered) W4A4GEMM(ctx context.Context, a backend.W4A4Args) error {
	return c.cpu.W4A4GEMM(ctx, a)
}
func (c covered) SpGEMM32(ctx context.Context, a, b *sparse.CSR[float32], o backend.SpGEMMOptions) (*sparse.CSR[float32], error) {
	return c.cpu.SpGEMM32(ctx, a, b, o)
}
func (c covered) SpGEMM64(ctx context.Context, a, b *sparse.CSR[float64], o backend.SpGEMMOptions) (*sparse.CSR[float64], error) {
	return c.cpu.SpGEMM64(ctx, a, b, o)
}

// TestConformance runs the whole conformance suite with the CUDA backend
// taking every case it supports, and checks that it took the float32
// Monarch forward and recurrent GLA and decode cases. The device is the
// registered one: the simulator under -tags cudasim, else the GPU, so that
// the test binary built here (go test -c) checks the kernels on a lent GPU.
// Without either there is nothing to run the kernels on.
func TestConformance(t *testing.T) {
	f, ok := backend.Lookup("cuda")
	require.True(t, ok)
	probe, err := f(0)
	if err != nil {
		t.Skipf("no CUDA device to run the kernels on (the simulator needs -tags cudasim): %v", err)
	}
	name := probe.Name()
	require.NoError(t, probe.Close())
	n := &counts{}
	conformance.Run(t, func(t *testing.T) backend.Backend {
		b, err := f(0)
		require.NoError(t, err)
		return covered{cuda: b.(*cudabackend.Backend), cpu: cpu.New(0), n: n}
	})
	assert.Positive(t, n.monarch.Load(), "float32 monarch cases ran on the simulator")
	assert.Positive(t, n.gla.Load(), "float32 recurrent gla cases ran on the simulator")
	assert.Positive(t, n.decode.Load(), "float32 gla decode cases ran on the simulator")
	t.Logf("on %s: %d monarch, %d gla, %d decode", name, n.monarch.Load(), n.gla.Load(), n.decode.Load())
}
