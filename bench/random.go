package bench

import (
	"math"
	"math/rand/v2"
)

// uniform32 returns n values uniform in [-1, -0.05] ∪ [0.05, 1]: random and
// never zero, so a kernel that skips an input cannot pass a check by chance.
// (The same distribution as engine/internal/check.Uniform, which package
// bench cannot import.)
func uniform32(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		x := float32(0.05 + 0.95*r.Float64())
		if r.IntN(2) == 0 {
			x = -x
		}
		v[i] = x
	}
	return v
}

// relFrobenius is ||got - want||_F / ||want||_F; NaN or Inf in got (an
// output the kernel never wrote, poisoned beforehand) gives +Inf.
func relFrobenius(got []float32, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i, g := range got {
		x := float64(g)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return math.Inf(1)
		}
		d := x - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// subsetRows is how many leading rows of a problem fit a reference budget
// of flops at perRow flops each (at least one, at most rows).
func subsetRows(rows int, perRow, budget float64) int {
	if perRow <= 0 {
		return rows
	}
	return max(1, min(rows, int(budget/perRow)))
}

// rowsNote describes a leading-rows subset ("" when it is everything).
func rowsNote(what string, sub, all int) string {
	if sub >= all {
		return ""
	}
	return what + " 0.." + itoa(sub-1) + " of " + itoa(all)
}
