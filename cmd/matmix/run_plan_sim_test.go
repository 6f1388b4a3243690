//go:build cudasim

package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A GLA -> Monarch chain (the workloads the CUDA backend has), repeated so
// that the pool serves later repetitions from its cache.
const simPlan = `{
  "seed": 3, "repeat": 4,
  "nodes": [
    {"name": "attn", "gla": {"b": 1, "t": 16, "h": 2, "k": 16, "v": 8}},
    {"name": "mlp", "monarch": {"batch": 8, "n": 32, "blocks": 4}, "inputs": {"x": "attn.o"}}
  ]
}`

// TestRunPlanPoolSim: run --plan on the CUDA backend over the simulator
// hands the backend's pool to the scheduler and prints its statistics
// after the summary: nothing in use at the end, blocks cached, and most
// allocations served from the cache.
func TestRunPlanPoolSim(t *testing.T) {
	planPath := writeFile(t, t.TempDir(), "plan.json", simPlan)
	out := requireOK(t, "run", "--backend", "cuda", "--plan", planPath)
	require.Contains(t, out, "plan: 2 nodes x 4 repeats (8 workloads)")
	m := regexp.MustCompile(`(?m)^memory pool (cuda\S*): in use (\d+) B, cached (\d+) B, peak (\d+) B, (\d+) allocations \((\d+) hits, (\d+) misses\), hit rate ([\d.]+)%$`).
		FindStringSubmatch(out)
	require.NotNil(t, m, out)
	n := func(i int) float64 {
		v, err := strconv.ParseFloat(m[i], 64)
		require.NoError(t, err)
		return v
	}
	assert.Zero(t, n(2), "in use after the plan")
	assert.Positive(t, n(3), "cached")
	assert.Positive(t, n(4), "peak")
	assert.Equal(t, n(5), n(6)+n(7), "allocations are hits plus misses")
	assert.Greater(t, n(8), 50.0, "later repetitions reuse the cached blocks")
}
