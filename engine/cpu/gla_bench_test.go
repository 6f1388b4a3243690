package cpu_test

import (
	"context"
	"testing"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/internal/check"
	"github.com/matmix/matmix/engine/tensor"
)

// BenchmarkGLA times one float32 forward of a 1x2048 batch, 4 heads of 128x128.
func BenchmarkGLA(b *testing.B) {
	c := conformance.GLACase{B: 1, T: 2048, H: 4, K: 128, V: 128, H0: true}
	p := c.New(b, check.NewRand(b), tensor.Float32)
	be := cpu.New(0)
	for _, form := range []backend.GLAForm{backend.GLAChunked, backend.GLARecurrent} {
		b.Run(form.String(), func(b *testing.B) {
			a := p.Args
			a.Form, a.Scale = form, 0.1
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
