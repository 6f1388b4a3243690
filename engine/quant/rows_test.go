package quant

import (
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
)

// roundEven32 agrees with math.RoundToEven over the whole range codes take,
// ties included.
func TestQuantRoundEven32(t *testing.T) {
	for i := -300 * 8; i <= 300*8; i++ {
		x := float32(i) / 8 // every eighth: integers, ties and between
		require.Equal(t, float32(math.RoundToEven(float64(x))), roundEven32(x), "x = %v", x)
	}
	r := check.NewRand(t)
	for range 100000 {
		x := float32((r.Float64()*2 - 1) * 140)
		require.Equal(t, float32(math.RoundToEven(float64(x))), roundEven32(x), "x = %v", x)
	}
	for _, x := range []float32{0.49999997, -0.49999997, 0.5, -0.5, 1.5, -1.5, 2.5, 127.5, -127.5, 7.5, -7.5} {
		require.Equal(t, float32(math.RoundToEven(float64(x))), roundEven32(x), "x = %v", x)
	}
}

// The quantizers give the same codes and scales on one goroutine and on
// several: rows are independent.
func TestQuantRowsParallel(t *testing.T) {
	r := check.NewRand(t)
	const m, k, group = 300, 1000, 64 // 300k values: several goroutines
	x := make([]float32, m*k)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	x[5] = 0 // a row of mixed magnitudes
	quantize := func(procs int) (*Activations, *Weights) {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		a, err := QuantizeActivations(x, m, k, group, 0.3)
		require.NoError(t, err)
		w, err := QuantizeWeights(x, m, k, group)
		require.NoError(t, err)
		return a, w
	}
	a1, w1 := quantize(1)
	a4, w4 := quantize(4)
	require.Equal(t, a1, a4)
	require.Equal(t, w1, w4)
	calls := 0
	forRows(3, 10, func(r0, r1 int) { calls++; require.Equal(t, [2]int{0, 3}, [2]int{r0, r1}) })
	require.Equal(t, 1, calls, "a small matrix runs on the caller's goroutine")
}
