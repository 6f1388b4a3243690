package cpu_test

import (
	"context"
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
