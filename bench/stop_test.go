package bench

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 2))
}

// simulate runs the stopping rule on a synthetic workload whose sample
// times are normal with the given mean and relative standard deviation, on
// a virtual clock (elapsed = sum of samples + overhead per sample), so the
// test is exact and instant.
func simulate(r *rand.Rand, rule stopRule, mean time.Duration, rel float64, overhead time.Duration) ([]float64, stopState) {
	var times []float64
	var total, elapsed time.Duration
	for {
		d := time.Duration(float64(mean) * (1 + rel*r.NormFloat64()))
		total += d
		elapsed += d + overhead
		times = append(times, d.Seconds())
		if st := rule.check(times, total, elapsed); st.done {
			return times, st
		}
	}
}

func nvbenchRule() stopRule { return ruleOf(DefaultOptions()) }

func TestStopRuleQuietWorkloadStopsAtMinimums(t *testing.T) {
	r := testRand(t)
	// 1 ms runs with 0.1% noise: the noise is under 0.5% at once, so the
	// rule stops as soon as both minimums hold: 0.5 s of samples = ~500.
	times, st := simulate(r, nvbenchRule(), time.Millisecond, 0.001, 0)
	require.True(t, st.converged, st.reason)
	assert.InDelta(t, 500, len(times), 3)
	assert.InDelta(t, 0.001, relNoise(times), 0.0003, "the measured noise is the workload's")
	assert.Contains(t, st.reason, "noise")

	// 100 ms runs: the 10-sample minimum binds before the time minimum.
	times, st = simulate(r, nvbenchRule(), 100*time.Millisecond, 0.001, 0)
	require.True(t, st.converged)
	assert.Len(t, times, 10)
}

func TestStopRuleNoisyWorkloadTimesOut(t *testing.T) {
	r := testRand(t)
	// 2% noise never falls under 0.5%: sampling runs to the 15 s timeout.
	times, st := simulate(r, nvbenchRule(), 10*time.Millisecond, 0.02, 0)
	assert.False(t, st.converged)
	assert.Contains(t, st.reason, "timeout")
	assert.InDelta(t, 1500, len(times), 20)
	assert.InDelta(t, 0.02, relNoise(times), 0.003)

	// The timeout counts wall time, overheads (cache flushes) included.
	times, st = simulate(r, nvbenchRule(), 10*time.Millisecond, 0.02, 20*time.Millisecond)
	assert.False(t, st.converged)
	assert.InDelta(t, 500, len(times), 10)
}

func TestStopRuleNoiseJustAboveAndBelowThreshold(t *testing.T) {
	r := testRand(t)
	rule := stopRule{maxNoise: 0.05, minSamples: 10, minTime: 0, maxTime: time.Hour}
	// 3% noise is under a 5% threshold: stops at the 10-sample minimum
	// unless the first samples happen to be wild (vanishingly rare).
	times, st := simulate(r, rule, time.Millisecond, 0.03, 0)
	require.True(t, st.converged)
	assert.Less(t, len(times), 40)
	// 8% noise: never converges, stops at the (virtual) hour. 30 samples
	// at least, so that a run of calm first samples (their spread is a
	// random variable too: 10 of them measure under 5% about once in 40
	// seeds) cannot stop it early.
	rule.maxTime = 10 * time.Second
	rule.minSamples = 30
	times, st = simulate(r, rule, time.Millisecond, 0.08, 0)
	assert.False(t, st.converged)
	assert.InDelta(t, 10000, len(times), 100)
}

func TestStopRuleSlowRunTimesOutBeforeMinimums(t *testing.T) {
	r := testRand(t)
	// 2 s runs: 15 s allow 8 of the 10 samples.
	times, st := simulate(r, nvbenchRule(), 2*time.Second, 0.0001, 0)
	assert.False(t, st.converged)
	assert.Len(t, times, 8)
	assert.Contains(t, st.reason, "before 10 samples")
}

func TestQuantiles(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3, 6, 8, 7, 10, 9}
	s := summarize(v)
	assert.InDelta(t, 5.5, s.median, 1e-12)
	assert.InDelta(t, 1.9, s.p10, 1e-12) // type 7: 1 + 0.9*(2-1)
	assert.InDelta(t, 9.1, s.p90, 1e-12)
	assert.InDelta(t, 5.5, s.mean, 1e-12)
	// Sample standard deviation of 1..10 is sqrt(55/6).
	assert.InDelta(t, 3.0276503540974917/5.5, s.noise, 1e-12)
	assert.Equal(t, []float64{5, 1, 4, 2, 3, 6, 8, 7, 10, 9}, v, "summarize must not reorder its input")
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, DefaultOptions().Validate())
	require.NoError(t, QuickOptions().Validate())
	bad := []func(*Options){
		func(o *Options) { o.MaxNoise = 0 },
		func(o *Options) { o.MinSamples = 0 },
		func(o *Options) { o.MaxTime = 0 },
		func(o *Options) { o.MinTime = 2 * o.MaxTime },
		func(o *Options) { o.Cooldown = -1 },
		func(o *Options) { o.FlushBytes = -1 },
	}
	for i, f := range bad {
		o := DefaultOptions()
		f(&o)
		assert.Error(t, o.Validate(), "case %d", i)
	}
}

func TestParseCacheSize(t *testing.T) {
	assert.Equal(t, int64(32<<10), parseCacheSize("32K"))
	assert.Equal(t, int64(3<<20), parseCacheSize("3M"))
	assert.Equal(t, int64(100), parseCacheSize("100"))
	assert.Zero(t, parseCacheSize("x"))
}
