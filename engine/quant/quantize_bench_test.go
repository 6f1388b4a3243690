package quant

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkQuantize2048(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2048*2048)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	b.Run("activations", func(b *testing.B) {
		for range b.N {
			if _, err := QuantizeActivations(x, 2048, 2048, 128, 0.25); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("weights", func(b *testing.B) {
		for range b.N {
			if _, err := QuantizeWeights(x, 2048, 2048, 128); err != nil {
				b.Fatal(err)
			}
		}
	})
}
