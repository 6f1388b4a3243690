package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
)

// Two int32 lanes packed in an int64 split back exactly over the whole int32
// range, the extremes included.
func TestW4A4Lanes(t *testing.T) {
	r := check.NewRand(t)
	edge := []int32{math.MinInt32, math.MinInt32 + 1, -1, 0, 1, math.MaxInt32 - 1, math.MaxInt32}
	vals := append([]int32(nil), edge...)
	for range 200 {
		vals = append(vals, int32(r.Uint32()))
	}
	for _, lo := range vals {
		for _, hi := range vals {
			if gotLo, gotHi := lanes(int64(lo) + int64(hi)<<32); gotLo != lo || gotHi != hi {
				require.Failf(t, "lanes", "packed (%d, %d), split (%d, %d)", lo, hi, gotLo, gotHi)
			}
		}
	}
}

// dot1x4 keeps each lane's sum exact up to the largest group sum
// backend.CheckW4A4 allows (|I| <= 127*7*L < 2^31), positive and negative,
// with lanes of opposite signs side by side. A long run of extreme codes
// would take a huge panel, so the words carry scaled-up lane values with
// the same sums.
func TestW4A4DotLaneExtremes(t *testing.T) {
	const l = math.MaxInt32 / (127 * 7) // the longest group allowed
	const reps = 1000
	// reps terms of 127 * (l/reps * 7) reach 127*7*l give or take the remainder.
	v := int64(l / reps * 7)
	a := make([]int8, reps)
	w := make([]w4a4Word, reps)
	for i := range a {
		a[i] = 127
		w[i] = w4a4Word{v + (-v)<<32, -v + v<<32, v + v<<32, -v + (-v)<<32}
	}
	want := int32(127 * v * reps)
	require.Greater(t, int64(want), int64(math.MaxInt32-127*7*reps), "the sums come close to the int32 limit")
	t0, t1, t2, t3 := dot1x4(a, w)
	got := [8]int32{}
	got[0], got[1] = lanes(t0)
	got[2], got[3] = lanes(t1)
	got[4], got[5] = lanes(t2)
	got[6], got[7] = lanes(t3)
	require.Equal(t, [8]int32{want, -want, -want, want, want, want, -want, -want}, got)
}
