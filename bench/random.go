package bench

import (
	"math/rand/v2"

	"github.com/matmix/matmix/engine/conformance/check"
)

// uniform32 returns n values uniform in [-1, -0.05] ∪ [0.05, 1]: random and
// never zero, so a kernel that skips an input cannot pass a check by chance.
func uniform32(r *rand.Rand, n int) []float32 { return check.Float32s(check.Uniform(r, n)) }

// relFrobenius is ||got - want||_F / ||want||_F; NaN or Inf in got (an
// output the kernel never wrote, poisoned beforehand) gives +Inf.
func relFrobenius(got []float32, want []float64) float64 {
	return check.RelFrobenius(check.Float64s(got), want)
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
