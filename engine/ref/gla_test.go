package ref_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/ref"
)

// glaClosedForm evaluates GLA without a recurrence, from the unrolled sum
//
//	o_t = scale * Σ_i q_ti [ Σ_{s<=t} k_si e^(Σ_{s<r<=t} g_ri) v_s + e^(Σ_{r<=t} g_ri) h0_i ]
//
// (r, s, t counted within the sequence), and ht likewise with t the last token.
func glaClosedForm(q, k, v, g, h0 []float64, off []int, H, K, V int, scale float64) (o, ht []float64) {
	o = make([]float64, off[len(off)-1]*H*V)
	ht = make([]float64, (len(off)-1)*H*K*V)
	// decay is exp of the gates summed over tokens (s, t] of head h, channel i.
	decay := func(s, t, h, i int) float64 {
		var sum float64
		for r := s + 1; r <= t; r++ {
			sum += g[(r*H+h)*K+i]
		}
		return math.Exp(sum)
	}
	for n := range len(off) - 1 {
		t0, t1 := off[n], off[n+1]
		for h := range H {
			// state(t) is S after token t (t0-1: the initial state).
			state := func(t, i, j int) float64 {
				var x float64
				if h0 != nil {
					x = decay(t0-1, t, h, i) * h0[((n*H+h)*K+i)*V+j]
				}
				for s := t0; s <= t; s++ {
					x += decay(s, t, h, i) * k[(s*H+h)*K+i] * v[(s*H+h)*V+j]
				}
				return x
			}
			for t := t0; t < t1; t++ {
				for j := range V {
					var x float64
					for i := range K {
						x += q[(t*H+h)*K+i] * state(t, i, j)
					}
					o[(t*H+h)*V+j] = scale * x
				}
			}
			for i := range K {
				for j := range V {
					ht[((n*H+h)*K+i)*V+j] = state(t1-1, i, j)
				}
			}
		}
	}
	return o, ht
}

func TestGLAMatchesClosedForm(t *testing.T) {
	r := check.NewRand(t)
	H, K, V := 2, 3, 4
	for name, off := range map[string][]int{
		"batch":  ref.GLAOffsets(2, 9),
		"varlen": {0, 3, 3, 4, 12},
	} {
		t.Run(name, func(t *testing.T) {
			tokens, n := off[len(off)-1], len(off)-1
			g := check.Uniform(r, tokens*H*K)
			for i := range g {
				g[i] = -0.3 * math.Abs(g[i]) // log decays in [-0.3, -0.015]
			}
			q, k := check.Uniform(r, tokens*H*K), check.Uniform(r, tokens*H*K)
			v, h0 := check.Uniform(r, tokens*H*V), check.Uniform(r, n*H*K*V)
			for _, h := range [][]float64{nil, h0} {
				o, ht := ref.GLA(q, k, v, g, h, off, H, K, V, 0.7)
				wantO, wantHT := glaClosedForm(q, k, v, g, h, off, H, K, V, 0.7)
				assert.LessOrEqual(t, check.RelFrobenius(o, wantO), 1e-13, "o, h0 %v", h != nil)
				assert.LessOrEqual(t, check.RelFrobenius(ht, wantHT), 1e-13, "ht, h0 %v", h != nil)
			}
		})
	}
}

// One channel by hand: the decay applies to the old state before the new
// token's k v is added, and o_t includes token t.
func TestGLAByHand(t *testing.T) {
	q, k, v := []float64{2, 3}, []float64{5, 7}, []float64{11, 13}
	g := []float64{math.Log(0.5), math.Log(0.25)}
	o, ht := ref.GLA(q, k, v, g, []float64{4}, ref.GLAOffsets(1, 2), 1, 1, 1, 0.1)
	s1 := 0.5*4 + 5*11   // 57
	s2 := 0.25*s1 + 7*13 // 105.25
	assert.InDeltaSlice(t, []float64{0.1 * 2 * s1, 0.1 * 3 * s2}, o, 1e-12)
	assert.InDeltaSlice(t, []float64{s2}, ht, 1e-12)
}
