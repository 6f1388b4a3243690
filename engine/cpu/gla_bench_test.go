package cpu_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/tensor"
)

// BenchmarkGLA times one forward at issue 7's size (B 1, T 4096, H 8,
// K = V 64), the size peers.py gla times torch's chunked form at: float32
// in both forms, float64 chunked for scale.
func BenchmarkGLA(b *testing.B) {
	c := conformance.GLACase{B: 1, T: 4096, H: 8, K: 64, V: 64}
	be := cpu.New(0)
	for _, bc := range []struct {
		dt   tensor.DType
		form backend.GLAForm
	}{
		{tensor.Float32, backend.GLAChunked},
		{tensor.Float32, backend.GLARecurrent},
		{tensor.Float64, backend.GLAChunked},
	} {
		b.Run(bc.dt.String()+"/"+bc.form.String(), func(b *testing.B) {
			p := c.New(b, check.NewRand(b), bc.dt)
			a := p.Args
			a.Form = bc.form
			flops := 4 * float64(c.T*c.H*c.K*c.V) // the recurrence's multiply-adds, as a common yardstick
			for b.Loop() {
				if err := be.GLAForward(context.Background(), a); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGLAPath times the float32 chunked forward at B 1, T 4096,
// K = V 64 on each path: over (sequence, head) pairs, over chunks, and the
// automatic choice, on 2 threads (and on 1, where the ratio of the two is
// the split's extra work). H 1 and 2 leave a thread idle on the pair path;
// H 3 leaves the threads unbalanced; H 8 keeps both busy.
func BenchmarkGLAPath(b *testing.B) {
	for _, h := range []int{1, 2, 3, 8} {
		c := conformance.GLACase{B: 1, T: 4096, H: h, K: 64, V: 64}
		p := c.New(b, check.NewRand(b), tensor.Float32)
		for _, threads := range []int{2, 1} {
			be := cpu.New(threads)
			for _, path := range []string{"pairs", "split", "auto"} {
				forward := func(ctx context.Context, a backend.GLAArgs) error {
					return cpu.GLAForwardPath(ctx, be, a, path == "split")
				}
				if path == "auto" {
					forward = be.GLAForward
				}
				b.Run(fmt.Sprintf("H%d/threads%d/%s", h, threads, path), func(b *testing.B) {
					flops := 4 * float64(c.T*c.H*c.K*c.V)
					for b.Loop() {
						if err := forward(context.Background(), p.Args); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
