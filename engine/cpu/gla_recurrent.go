package cpu

import "math"

// glaStep is the recurrent form's step, fla's naive_recurrent_gla for one
// token: S = diag(exp(g)) S + k^T v, then o = scale * q S. S is [K, V].
func glaStep[T float](S, q, k, v, g, o []T, scale T) {
	V := len(v)
	for i := range k {
		row := S[i*V : (i+1)*V]
		d, ki := T(math.Exp(float64(g[i]))), k[i]
		for x := range row {
			row[x] = d*row[x] + ki*v[x]
		}
	}
	clear(o)
	for i := range q {
		glaAxpy(o, scale*q[i], S[i*V:(i+1)*V])
	}
}
