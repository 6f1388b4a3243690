package backend_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// covered runs every operation on the CUDA backend and only what it
// refuses as unsupported on the CPU backend, counting what CUDA computed.
// The conformance suite checks every case of every workload, so the CUDA
// kernels' cases (Monarch forward and backward, GLA forward in both forms
// and GLA decode, each in float32, float16 and bfloat16) go through the
// suite unchanged, and the rest is the CPU's.
type covered struct {
	cuda *cudabackend.Backend
	cpu  *cpu.Backend
	n    *counts
}

type counts struct {
	monarch, monarchGrads dtypeCounts
	gla                   [2]dtypeCounts // by form: backend.GLAChunked, backend.GLARecurrent
	glaKernels            [3]dtypeCounts // by the kernel that ran (cudabackend.GLAKernel)
	decode                dtypeCounts
	w4a4, w4a4CPU         atomic.Int64 // W4A4 GEMMs the kernels computed, and the CPU
	spgemm                dtypeCounts  // SpGEMM products the kernels computed (float32, float64)
	spgemmCPU             atomic.Int64 // and those that fell back to the CPU
}

// dtypeCounts are the Monarch cases CUDA computed, by dtype.
type dtypeCounts struct{ f64, f32, f16, bf16 atomic.Int64 }

func (m *dtypeCounts) of(dt tensor.DType) *atomic.Int64 {
	switch dt {
	case tensor.Float32:
		return &m.f32
	case tensor.Float16:
		return &m.f16
	case tensor.BFloat16:
		return &m.bf16
	}
	return &m.f64
}

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
	return either(c.n.monarch.of(a.X.DType()), func() error { return c.cuda.MonarchForward(ctx, a) }, func() error { return c.cpu.MonarchForward(ctx, a) })
}
func (c covered) MonarchBackward(ctx context.Context, a backend.MonarchGradArgs) error {
	return either(c.n.monarchGrads.of(a.X.DType()), func() error { return c.cuda.MonarchBackward(ctx, a) }, func() error { return c.cpu.MonarchBackward(ctx, a) })
}
func (c covered) GLAForward(ctx context.Context, a backend.GLAArgs) error {
	n := &atomic.Int64{} // a form the suite does not use: not counted
	if a.Form == backend.GLAChunked || a.Form == backend.GLARecurrent {
		n = c.n.gla[a.Form].of(a.Q.DType())
	}
	cuda := func() error {
		err := c.cuda.GLAForward(ctx, a)
		if err == nil {
			plan, perr := c.cuda.GLAPlanFor(a, cudabackend.GLAOptions{})
			if perr != nil {
				return perr
			}
			c.n.glaKernels[plan.Kernel].of(a.Q.DType()).Add(1)
		}
		return err
	}
	return either(n, cuda, func() error { return c.cpu.GLAForward(ctx, a) })
}
func (c covered) GLADecode(ctx context.Context, a backend.GLADecodeArgs) error {
	return either(c.n.decode.of(a.Q.DType()), func() error { return c.cuda.GLADecode(ctx, a) }, func() error { return c.cpu.GLADecode(ctx, a) })
}
func (c covered) W4A4GEMM(ctx context.Context, a backend.W4A4Args) error {
	cpu := func() error {
		c.n.w4a4CPU.Add(1)
		return c.cpu.W4A4GEMM(ctx, a)
	}
	return either(&c.n.w4a4, func() error { return c.cuda.W4A4GEMM(ctx, a) }, cpu)
}
func (c covered) SpGEMM32(ctx context.Context, a, b *sparse.CSR[float32], o backend.SpGEMMOptions) (r *sparse.CSR[float32], err error) {
	err = either(&c.n.spgemm.f32, func() (err error) { r, err = c.cuda.SpGEMM32(ctx, a, b, o); return err },
		func() (err error) { c.n.spgemmCPU.Add(1); r, err = c.cpu.SpGEMM32(ctx, a, b, o); return err })
	return r, err
}
func (c covered) SpGEMM64(ctx context.Context, a, b *sparse.CSR[float64], o backend.SpGEMMOptions) (r *sparse.CSR[float64], err error) {
	err = either(&c.n.spgemm.f64, func() (err error) { r, err = c.cuda.SpGEMM64(ctx, a, b, o); return err },
		func() (err error) { c.n.spgemmCPU.Add(1); r, err = c.cpu.SpGEMM64(ctx, a, b, o); return err })
	return r, err
}

// TestConformance runs the whole conformance suite with the CUDA backend
// taking every case it supports, and checks that it took the Monarch
// forward and backward cases, the GLA forward cases of both forms (on both
// kernels) and the GLA decode cases, in float32, float16 and bfloat16
// (float64 stays on the CPU). The device is the
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
	for _, m := range []struct {
		name string
		c    *dtypeCounts
	}{
		{"monarch", &n.monarch}, {"monarch backward", &n.monarchGrads},
		{"gla chunked form", &n.gla[backend.GLAChunked]}, {"gla recurrent form", &n.gla[backend.GLARecurrent]},
		{"gla chunked kernel", &n.glaKernels[cudabackend.GLAChunkedKernel]},
		{"gla recurrent kernel", &n.glaKernels[cudabackend.GLARecurrentKernel]},
		{"gla decode", &n.decode},
	} {
		assert.Positive(t, m.c.f32.Load(), "float32 %s cases ran on the device", m.name)
		assert.Positive(t, m.c.f16.Load(), "float16 %s cases ran on the device", m.name)
		assert.Positive(t, m.c.bf16.Load(), "bfloat16 %s cases ran on the device", m.name)
		assert.Zero(t, m.c.f64.Load(), "float64 %s cases stay on the cpu", m.name)
	}
	assert.Positive(t, n.w4a4.Load(), "w4a4 cases ran on the device")
	assert.Zero(t, n.w4a4CPU.Load(), "no w4a4 case fell back to the cpu")
	t.Logf("w4a4: %d GEMMs on the device", n.w4a4.Load())
	assert.Positive(t, n.spgemm.f32.Load(), "float32 spgemm cases ran on the device")
	assert.Positive(t, n.spgemm.f64.Load(), "float64 spgemm cases ran on the device")
	assert.Zero(t, n.spgemmCPU.Load(), "no spgemm case fell back to the cpu")
	t.Logf("spgemm: %d float32 and %d float64 products on the device", n.spgemm.f32.Load(), n.spgemm.f64.Load())
	dts := func(c *dtypeCounts) string {
		return fmt.Sprintf("%d/%d/%d", c.f32.Load(), c.f16.Load(), c.bf16.Load())
	}
	t.Logf("on %s (float32/float16/bfloat16): monarch %s and backward %s, gla chunked form %s (chunked kernel %s), recurrent form %s, decode %s",
		name, dts(&n.monarch), dts(&n.monarchGrads), dts(&n.gla[backend.GLAChunked]),
		dts(&n.glaKernels[cudabackend.GLAChunkedKernel]), dts(&n.gla[backend.GLARecurrent]), dts(&n.decode))
}
