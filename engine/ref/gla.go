package ref

import "math"

// GLA is gated linear attention in the flash-linear-attention convention,
// the recurrence of fla's naive_recurrent_gla (fla/ops/gla/naive.py) run one
// token at a time in float64:
//
//	S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t,   o_t = scale * q_t S_t
//
// q, k, g are [B, T, H, K] and v is [B, T, H, V], row-major. offsets holds
// N+1 token offsets into the flattened B*T axis: sequence n is tokens
// offsets[n] to offsets[n+1] (offsets = 0, T, 2T, ... for a plain batch, or
// cu_seqlens with B = 1). h0, if not nil, is the initial state [N, H, K, V].
// It returns o [B, T, H, V] and the final states ht [N, H, K, V].
func GLA(q, k, v, g, h0 []float64, offsets []int, H, K, V int, scale float64) (o, ht []float64) {
	n := len(offsets) - 1
	tokens := offsets[n]
	o = make([]float64, tokens*H*V)
	ht = make([]float64, n*H*K*V)
	for s := range n {
		for h := range H {
			S := ht[(s*H+h)*K*V : (s*H+h+1)*K*V]
			if h0 != nil {
				copy(S, h0[(s*H+h)*K*V:])
			}
			for t := offsets[s]; t < offsets[s+1]; t++ {
				qt := q[(t*H+h)*K : (t*H+h+1)*K]
				kt := k[(t*H+h)*K : (t*H+h+1)*K]
				gt := g[(t*H+h)*K : (t*H+h+1)*K]
				vt := v[(t*H+h)*V : (t*H+h+1)*V]
				for i := range K {
					d := math.Exp(gt[i])
					for j := range V {
						S[i*V+j] = d*S[i*V+j] + kt[i]*vt[j]
					}
				}
				ot := o[(t*H+h)*V : (t*H+h+1)*V]
				for j := range V {
					var acc float64
					for i := range K {
						acc += qt[i] * S[i*V+j]
					}
					ot[j] = scale * acc
				}
			}
		}
	}
	return o, ht
}

// GLAOffsets returns the sequence offsets of a plain batch of B sequences of
// length T: 0, T, 2T, ..., B*T.
func GLAOffsets(B, T int) []int {
	off := make([]int, B+1)
	for b := range off {
		off[b] = b * T
	}
	return off
}
