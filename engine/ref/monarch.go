package ref

// MonarchDims are the sizes of a Monarch product in the fly convention
// (HazyResearch/fly, blockdiag_butterfly_multiply_reference): x is
// (Batch, K*P), w1 is (K, Q, P), w2 is (L, S, R) with L*R = K*Q, and y is
// (Batch, L*S). All slices are row-major.
type MonarchDims struct {
	Batch, K, Q, P, L, S, R int
}

// N is the input width K*P.
func (d MonarchDims) N() int { return d.K * d.P }

// M is the output width L*S.
func (d MonarchDims) M() int { return d.L * d.S }

// MonarchForward computes y = Monarch(w1, w2) x, straight from the spec:
//
//	y1[b, k, q]    = sum_p w1[k, q, p] * x[b, k*P + p]
//	z[b, l, r]     = y1 flattened as (k q), read as (r l): y1[b, r*L + l]
//	y2[b, l, s]    = sum_r w2[l, s, r] * z[b, l, r]
//	y[b, s*L + l]  = y2[b, l, s]
func MonarchForward(d MonarchDims, x, w1, w2, y []float64) {
	y1 := make([]float64, d.K*d.Q) // one row of y1, flattened (k q)
	for b := range d.Batch {
		xb := x[b*d.N() : (b+1)*d.N()]
		for k := range d.K {
			for q := range d.Q {
				sum := 0.0
				for p := range d.P {
					sum += w1[(k*d.Q+q)*d.P+p] * xb[k*d.P+p]
				}
				y1[k*d.Q+q] = sum
			}
		}
		yb := y[b*d.M() : (b+1)*d.M()]
		for l := range d.L {
			for s := range d.S {
				sum := 0.0
				for r := range d.R {
					sum += w2[(l*d.S+s)*d.R+r] * y1[r*d.L+l]
				}
				yb[s*d.L+l] = sum
			}
		}
	}
}

// MonarchBackward computes the gradients of y = Monarch(w1, w2) x given dy,
// by the chain rule through the four lines of MonarchForward:
//
//	dy2[b, l, s]     = dy[b, s*L + l]
//	dw2[l, s, r]     = sum_b dy2[b, l, s] * z[b, l, r]
//	dy1[b, r*L + l]  = sum_s w2[l, s, r] * dy2[b, l, s]
//	dw1[k, q, p]     = sum_b dy1[b, k*Q + q] * x[b, k*P + p]
//	dx[b, k*P + p]   = sum_q w1[k, q, p] * dy1[b, k*Q + q]
//
// Any of dx, dw1, dw2 may be nil (not wanted); the others are overwritten.
func MonarchBackward(d MonarchDims, x, w1, w2, dy, dx, dw1, dw2 []float64) {
	clear(dw1)
	clear(dw2)
	y1 := make([]float64, d.K*d.Q)
	dy1 := make([]float64, d.K*d.Q)
	for b := range d.Batch {
		xb := x[b*d.N() : (b+1)*d.N()]
		dyb := dy[b*d.M() : (b+1)*d.M()]
		// Recompute the intermediate y1 of this row (needed by dw2).
		for k := range d.K {
			for q := range d.Q {
				sum := 0.0
				for p := range d.P {
					sum += w1[(k*d.Q+q)*d.P+p] * xb[k*d.P+p]
				}
				y1[k*d.Q+q] = sum
			}
		}
		for l := range d.L {
			for r := range d.R {
				sum := 0.0
				for s := range d.S {
					g := dyb[s*d.L+l]
					sum += w2[(l*d.S+s)*d.R+r] * g
					if dw2 != nil {
						dw2[(l*d.S+s)*d.R+r] += g * y1[r*d.L+l]
					}
				}
				dy1[r*d.L+l] = sum
			}
		}
		for k := range d.K {
			for p := range d.P {
				sum := 0.0
				for q := range d.Q {
					g := dy1[k*d.Q+q]
					sum += w1[(k*d.Q+q)*d.P+p] * g
					if dw1 != nil {
						dw1[(k*d.Q+q)*d.P+p] += g * xb[k*d.P+p]
					}
				}
				if dx != nil {
					dx[b*d.N()+k*d.P+p] = sum
				}
			}
		}
	}
}

// MonarchDense returns the dense (M, N) row-major matrix of Monarch(w1, w2),
// so that y[b] = Dense * x[b]. Its entry at row s*L + l, column k*P + p is
// sum over r with r*L + l = k*Q + q of w2[l, s, r] * w1[k, q, p]: a product
// only couples the w2 column r and the w1 row q that meet at one flattened
// index of the intermediate.
func MonarchDense(d MonarchDims, w1, w2 []float64) []float64 {
	dense := make([]float64, d.M()*d.N())
	for l := range d.L {
		for r := range d.R {
			idx := r*d.L + l // flattened (k q) index of the intermediate
			k, q := idx/d.Q, idx%d.Q
			for s := range d.S {
				a := w2[(l*d.S+s)*d.R+r]
				row := dense[(s*d.L+l)*d.N()+k*d.P : (s*d.L+l)*d.N()+(k+1)*d.P]
				for p := range d.P {
					row[p] += a * w1[(k*d.Q+q)*d.P+p]
				}
			}
		}
	}
	return dense
}
