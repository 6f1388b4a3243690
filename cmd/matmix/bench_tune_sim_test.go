//go:build cudasim

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cudabackend "github.com/matmix/matmix/cuda/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// benchReport is the part of the JSON report the autotune tests read.
type benchReport struct {
	Device struct {
		Ceilings *struct {
			GBPS       float64 `json:"gbps"`
			BF16GFLOPS float64 `json:"bf16_gflops"`
			Measured   bool    `json:"measured"`
			Source     string  `json:"source"`
		} `json:"ceilings"`
	} `json:"device"`
	Results []struct {
		Name        string   `json:"name"`
		Plan        string   `json:"plan"`
		RooflinePct *float64 `json:"roofline_pct"`
		Check       struct {
			Status string  `json:"status"`
			Error  float64 `json:"error"`
			Tol    float64 `json:"tol"`
		} `json:"check"`
	} `json:"results"`
	Autotune []struct {
		Key   string             `json:"key"`
		Plan  string             `json:"plan"`
		Timed map[string]float64 `json:"timed"`
	} `json:"autotune"`
}

func readReport(t *testing.T, path string) benchReport {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var r benchReport
	require.NoError(t, json.Unmarshal(b, &r))
	return r
}

// TestBenchAutotuneSim runs `matmix bench --autotune` on the simulator:
// the ceilings are measured and reported, each shape's candidates are timed
// and the winner runs (and passes its check) and is cached; a second run
// without --autotune runs the cached winner without timing anything.
func TestBenchAutotuneSim(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "tune", "autotune.json")
	shapes := []string{"monarch", "--batch", "40", "--n", "64", "--blocks", "4"}
	args := append(append([]string{}, shapes...), "--backend", "cuda", "--quick", "--autotune", "--autotune-cache", cache,
		"--json", filepath.Join(dir, "1.json"))
	stdout := requireOK(t, benchArgs(args...)...)
	assert.Contains(t, stdout, "Roofline ceilings: memory ")
	assert.Contains(t, stdout, "(measured; measured on matmix CUDA simulator sm_90)")
	assert.Contains(t, stdout, "| monarch/f32/batch=40/k=4/q=16/p=16/l=4/s=16/r=16 | ")
	r := readReport(t, filepath.Join(dir, "1.json"))
	require.NotNil(t, r.Device.Ceilings)
	assert.True(t, r.Device.Ceilings.Measured)
	assert.Greater(t, r.Device.Ceilings.BF16GFLOPS, 0.0)
	require.Len(t, r.Autotune, 1)
	assert.Len(t, r.Autotune[0].Timed, 5)
	require.Len(t, r.Results, 1)
	assert.Equal(t, r.Autotune[0].Plan, r.Results[0].Plan)
	assert.Equal(t, "ok", r.Results[0].Check.Status)
	assert.NotNil(t, r.Results[0].RooflinePct)

	c, err := cudabackend.LoadTuneCache(cache)
	require.NoError(t, err)
	e, ok := c.Lookup("matmix CUDA simulator sm_90", r.Autotune[0].Key)
	require.True(t, ok)
	assert.Equal(t, r.Autotune[0].Plan, e.Plan)

	// A later run: the cached winner, no tuning, the cached ceilings.
	args = append(append([]string{}, shapes...), "--backend", "cuda", "--quick", "--autotune-cache", cache,
		"--json", filepath.Join(dir, "2.json"))
	stdout = requireOK(t, benchArgs(args...)...)
	assert.NotContains(t, stdout, "autotuned shape")
	r2 := readReport(t, filepath.Join(dir, "2.json"))
	assert.Empty(t, r2.Autotune)
	assert.Equal(t, e.Plan, r2.Results[0].Plan)
	assert.Equal(t, r.Device.Ceilings.GBPS, r2.Device.Ceilings.GBPS, "ceilings from the cache")
}

// TestBenchAutotuneGLASim tunes a small chunked GLA on the simulator.
func TestBenchAutotuneGLASim(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "autotune.json")
	stdout := requireOK(t, benchArgs("gla", "--b", "1", "--t", "70", "--h", "1", "--k", "16", "--v", "16", "--backend", "cuda",
		"--quick", "--autotune", "--autotune-cache", cache, "--json", filepath.Join(dir, "r.json"))...)
	assert.Contains(t, stdout, "| gla/f32/chunked/n=1/tokens=70/maxlen=70/h=1/k=16/v=16 | ")
	r := readReport(t, filepath.Join(dir, "r.json"))
	require.Len(t, r.Autotune, 1)
	assert.ElementsMatch(t, []string{"recurrent", "chunked/kt=32/warps=4", "chunked/kt=64/warps=4"}, keysOf(r.Autotune[0].Timed))
	assert.Equal(t, r.Autotune[0].Plan, r.Results[0].Plan)
	assert.Equal(t, "ok", r.Results[0].Check.Status)
}

// TestBenchAutotuneCacheErrorsSim: a corrupt cache stops --autotune with
// one error line (and is left as it was); without --autotune the run warns
// and goes on with the heuristics.
func TestBenchAutotuneCacheErrorsSim(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "autotune.json")
	require.NoError(t, os.WriteFile(cache, []byte("{not json"), 0o644))
	shapes := []string{"monarch", "--batch", "16", "--n", "32", "--blocks", "2", "--backend", "cuda", "--quick", "--autotune-cache", cache}
	line := requireUserError(t, dir, nil, benchArgs(append(shapes, "--autotune")...)...)
	assert.Contains(t, line, "is not an autotune cache")
	code, stdout, stderr := runMain(benchArgs(shapes...)...)
	require.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasPrefix(stderr, "matmix: warning: running without the autotune cache"), stderr)
	assert.Contains(t, stdout, "| monarch/")
	b, err := os.ReadFile(cache)
	require.NoError(t, err)
	assert.Equal(t, "{not json", string(b))
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestBenchDTypeSim runs the 16-bit dtypes and tf32 on the simulator: each
// passes its check at the spec's tolerance against the float64 reference,
// and the roofline is against the matching tensor-core ceiling, which the
// simulator measures. tf32 runs through the tuner's backend (the engine's
// API has no arithmetic choice), so it names a plan, tuned or not.
func TestBenchDTypeSim(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "autotune.json")
	j := filepath.Join(dir, "m.json")
	requireOK(t, benchArgs("monarch", "--batch", "40", "--n", "64", "--blocks", "4", "--dtype", "bfloat16,float32",
		"--math", "tf32", "--backend", "cuda", "--quick", "--autotune-cache", cache, "--json", j)...)
	r := readReport(t, j)
	require.Len(t, r.Results, 2)
	assert.Equal(t, "monarch/batch=40/n=64/blocks=4/dtype=bfloat16", r.Results[0].Name)
	assert.Equal(t, "monarch/batch=40/n=64/blocks=4/dtype=float32/math=tf32", r.Results[1].Name)
	for _, res := range r.Results {
		assert.Equal(t, "ok", res.Check.Status, res.Name)
		assert.Equal(t, 1e-2, res.Check.Tol, res.Name)
		assert.Greater(t, res.Check.Error, 1e-5, "%s: 16-bit or tf32 rounding shows", res.Name)
		assert.NotNil(t, res.RooflinePct, res.Name)
	}
	assert.Empty(t, r.Results[0].Plan, "bfloat16 without a cached winner: the engine's own choice")
	assert.NotEmpty(t, r.Results[1].Plan)

	// --autotune with tf32 tunes the tf32 kernels.
	requireOK(t, benchArgs("monarch", "--batch", "40", "--n", "64", "--blocks", "4", "--math", "tf32",
		"--backend", "cuda", "--quick", "--autotune", "--autotune-cache", cache, "--json", j)...)
	r = readReport(t, j)
	require.Len(t, r.Autotune, 1)
	assert.Contains(t, r.Autotune[0].Key, "tf32")
	assert.Equal(t, r.Autotune[0].Plan, r.Results[0].Plan)
	assert.Equal(t, "ok", r.Results[0].Check.Status)

	requireOK(t, benchArgs("gla", "--b", "2", "--t", "70", "--h", "1", "--k", "16", "--v", "16", "--dtype", "bfloat16",
		"--backend", "cuda", "--quick", "--autotune-cache", cache, "--json", j)...)
	r = readReport(t, j)
	require.Len(t, r.Results, 1)
	assert.Equal(t, "gla/b=2/t=70/h=1/k=16/v=16/form=chunked/dtype=bfloat16", r.Results[0].Name)
	assert.Equal(t, "ok", r.Results[0].Check.Status)
	assert.Equal(t, 1e-2, r.Results[0].Check.Tol)
	assert.Greater(t, r.Results[0].Check.Error, 1e-5)
	assert.NotNil(t, r.Results[0].RooflinePct)
}
