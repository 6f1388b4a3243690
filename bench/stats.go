package bench

import (
	"math"
	"slices"
)

// quantile is the q-quantile of sorted values with linear interpolation
// between order statistics (R's type 7, numpy's default).
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := q * float64(n-1)
	lo := int(math.Floor(h))
	hi := min(lo+1, n-1)
	return sorted[lo] + (h-float64(lo))*(sorted[hi]-sorted[lo])
}

// meanStd returns the mean and the sample standard deviation (n-1).
func meanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

// relNoise is nvbench's noise: the samples' standard deviation relative to
// their mean (+Inf with fewer than two samples).
func relNoise(v []float64) float64 {
	if len(v) < 2 {
		return math.Inf(1)
	}
	m, s := meanStd(v)
	if m <= 0 {
		return math.Inf(1)
	}
	return s / m
}

// summary is the order statistics of a set of sample times.
type summary struct {
	median, p10, p90, mean, noise float64
}

func summarize(v []float64) summary {
	s := slices.Clone(v)
	slices.Sort(s)
	m, _ := meanStd(v)
	return summary{median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9), mean: m, noise: relNoise(v)}
}
