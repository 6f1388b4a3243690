package cpu_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// BenchmarkMonarch times the float32 forward at issue 7's size (64 blocks),
// the one `peers.py monarch --batch 4096 --n 4096 --blocks 64` times torch
// at: square blocks of n/blocks, cost 4*batch*n*(n/blocks) flops. 16 and 4
// blocks time the second factor with one lane vector and with none.
func BenchmarkMonarch(b *testing.B) {
	const batch, n = 4096, 4096
	for _, blocks := range []int{64, 16, 4} {
		benchmarkMonarch(b, batch, n, blocks)
	}
}

func benchmarkMonarch(b *testing.B, batch, n, blocks int) {
	b.Run(fmt.Sprintf("batch=%d/n=%d/blocks=%d", batch, n, blocks), func(b *testing.B) {
		be := cpu.New(0)
		c := newMonarchCase(b, check.NewRand(b), tensor.Float32, monarchSquare(batch, n, blocks))
		y, err := tensor.New(tensor.Float32, batch, n)
		require.NoError(b, err)
		for b.Loop() {
			require.NoError(b, be.MonarchForward(b.Context(), backend.MonarchArgs{X: c.x, W1: c.w1, W2: c.w2, Y: y}))
		}
		b.ReportMetric(4*float64(batch)*float64(n)*float64(n/blocks)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkMonarchBackward times dx, dw1 and dw2 together at the same size:
// four products the size of one factor's, twice the forward's flops (the
// recomputed intermediate not counted).
func BenchmarkMonarchBackward(b *testing.B) {
	const batch, n, blocks = 4096, 4096, 64
	b.Run(fmt.Sprintf("batch=%d/n=%d/blocks=%d", batch, n, blocks), func(b *testing.B) {
		be := cpu.New(0)
		c := newMonarchCase(b, check.NewRand(b), tensor.Float32, monarchSquare(batch, n, blocks))
		a := backend.MonarchGradArgs{X: c.x, W1: c.w1, W2: c.w2, DY: c.dy}
		var err error
		a.DX, err = tensor.New(tensor.Float32, c.x.Shape()...)
		require.NoError(b, err)
		a.DW1, err = tensor.New(tensor.Float32, c.w1.Shape()...)
		require.NoError(b, err)
		a.DW2, err = tensor.New(tensor.Float32, c.w2.Shape()...)
		require.NoError(b, err)
		for b.Loop() {
			require.NoError(b, be.MonarchBackward(b.Context(), a))
		}
		b.ReportMetric(8*float64(batch)*n*(n/blocks)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// monarchSquare is fly's square Monarch of size n with the given number of
// blocks in each factor.
func monarchSquare(batch, n, blocks int) ref.MonarchDims {
	bs := n / blocks
	return ref.MonarchDims{Batch: batch, K: blocks, Q: bs, P: bs, L: blocks, S: bs, R: bs}
}
