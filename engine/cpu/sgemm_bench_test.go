package cpu_test

import (
	"fmt"
	"testing"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/cpu/gemm"
)

// BenchmarkSgemm times the dense float32 product C = A·B (n x n) the CPU
// backend's workloads are built on, with the backend's thread count, at the
// size `peers.py sgemm --n 2048` times numpy (OpenBLAS) at.
func BenchmarkSgemm(b *testing.B) {
	const n = 2048
	b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
		r := check.NewRand(b)
		x, y := check.Float32s(check.Uniform(r, n*n)), check.Float32s(check.Uniform(r, n*n))
		c := make([]float32, n*n)
		threads := cpu.New(0).Threads()
		for b.Loop() {
			gemm.MatMul(n, n, n, gemm.Matrix{Data: x, Stride: n}, gemm.Matrix{Data: y, Stride: n}, c, n, false, threads)
		}
		b.ReportMetric(2*float64(n)*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
