package bench

import (
	"fmt"
	"time"
)

// stopRule decides when to stop sampling: nvbench's stdrel criterion
// (nvbench/detail/stdrel_criterion.cuh) without its noise-trend test: at
// least minSamples samples and minTime of total sample time, then stop once
// the relative noise is under maxNoise, or at the timeout regardless.
type stopRule struct {
	maxNoise   float64
	minSamples int
	minTime    time.Duration
	maxTime    time.Duration
}

func ruleOf(o Options) stopRule {
	return stopRule{maxNoise: o.MaxNoise, minSamples: o.MinSamples, minTime: o.MinTime, maxTime: o.MaxTime}
}

// stopState is the outcome of a check of the rule.
type stopState struct {
	done      bool
	converged bool   // stopped because the noise was low enough
	reason    string // why it stopped
}

// check looks at the samples so far (seconds), their sum and the wall time
// spent sampling (which includes cache flushes and overheads).
func (r stopRule) check(samples []float64, total, elapsed time.Duration) stopState {
	enough := len(samples) >= r.minSamples && total >= r.minTime
	noise := relNoise(samples)
	if enough && noise <= r.maxNoise {
		return stopState{done: true, converged: true,
			reason: fmt.Sprintf("noise %.2f%% <= %.2f%% after %d samples", 100*noise, 100*r.maxNoise, len(samples))}
	}
	if elapsed >= r.maxTime {
		why := fmt.Sprintf("timeout %v with noise %.2f%% > %.2f%%", r.maxTime, 100*noise, 100*r.maxNoise)
		if !enough {
			why = fmt.Sprintf("timeout %v before %d samples and %v of samples", r.maxTime, r.minSamples, r.minTime)
		}
		return stopState{done: true, reason: why}
	}
	return stopState{}
}
