package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/mempool"
)

const testPlan = `{
  "seed": 5, "repeat": 2,
  "nodes": [
    {"name": "proj", "w4a4": {"m": 16, "n": 32, "k": 32, "group": 16}},
    {"name": "attn", "gla": {"b": 1, "t": 16, "h": 2, "k": 16, "v": 8}, "inputs": {"q": "proj.y"}},
    {"name": "mlp", "monarch": {"batch": 8, "n": 32, "blocks": 4}, "inputs": {"x": "attn.o"}},
    {"name": "sp", "spgemm": {"gen": "er", "n": 32, "deg": 3}}
  ]
}`

func TestRunPlan(t *testing.T) {
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.json", testPlan)
	trace := filepath.Join(dir, "trace.json")
	// --plan need not come first.
	out := requireOK(t, "run", "--backend", "cpu", "--plan", planPath, "--streams", "2", "--devices", "2",
		"--policy", "round-robin", "--trace", trace)
	require.Contains(t, out, "plan: 4 nodes x 2 repeats (8 workloads)")
	for _, n := range []string{"proj", "attn", "mlp", "sp", "mean run", "device:stream"} {
		require.Contains(t, out, n)
	}
	// The CPU backend allocates host memory per call: no pool to report.
	require.NotContains(t, out, "memory pool")
	raw, err := os.ReadFile(trace)
	require.NoError(t, err)
	var tr struct {
		TraceEvents []struct {
			Name, Ph string
			Ts       float64
			Dur      float64
			Pid, Tid int
		}
	}
	require.NoError(t, json.Unmarshal(raw, &tr))
	names := map[string]int{}
	pids := map[int]bool{}
	for _, ev := range tr.TraceEvents {
		if ev.Ph == "X" {
			names[ev.Name]++
			pids[ev.Pid] = true
			assert.Positive(t, ev.Dur)
			assert.Less(t, ev.Tid, 2)
		}
	}
	assert.Equal(t, map[string]int{"proj": 2, "attn": 2, "mlp": 2, "sp": 2}, names)
	assert.Len(t, pids, 2, "round-robin over two devices")

	// --repeat overrides the plan's; --plan=FILE works too.
	out = requireOK(t, "run", "--plan="+planPath, "--backend", "cpu", "--repeat", "1")
	require.Contains(t, out, "plan: 4 nodes x 1 repeats (4 workloads)")

	code, stdout, stderr := runMain("run", "--plan", "-h")
	require.Equal(t, 0, code)
	require.Empty(t, stderr)
	require.Contains(t, stdout, "usage: matmix run plan")
	require.Contains(t, stdout, "-trace")
	code, stdout, _ = runMain("run", "-h")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "--plan")
}

// The pool line: the figures as they stand, the hit rate as a percentage.
func TestWritePoolStats(t *testing.T) {
	var b strings.Builder
	writePoolStats(&b, []string{"cuda:0", "cuda:1"}, []mempool.Stats{
		{InUse: 0, Cached: 4096, Peak: 8192, Allocs: 40, Hits: 38, Misses: 2},
		{Allocs: 0},
	})
	assert.Equal(t, "memory pool cuda:0: in use 0 B, cached 4096 B, peak 8192 B, 40 allocations (38 hits, 2 misses), hit rate 95.0%\n"+
		"memory pool cuda:1: in use 0 B, cached 0 B, peak 0 B, 0 allocations (0 hits, 0 misses), hit rate 0.0%\n", b.String())
}

func TestRunPlanErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "plan.json", testPlan)
	trace := filepath.Join(dir, "trace.json")
	badJSON := writeFile(t, dir, "bad.json", `{"nodes": [`)
	badShape := writeFile(t, dir, "shape.json", strings.Replace(testPlan, `"batch": 8`, `"batch": 9`, 1))
	// Found only when it runs: a 3x3 matrix times sp's 32x32 product.
	writeFile(t, dir, "a.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 1\n1 1 2\n")
	runFails := writeFile(t, dir, "runfails.json", strings.Replace(testPlan, `"deg": 3}}`,
		`"deg": 3}}, {"name": "bad", "spgemm": {"mtx": "a.mtx"}, "inputs": {"b": "sp.c"}}`, 1))
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--plan", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"--plan", badJSON}, "not a valid plan"},
		{[]string{"--plan", badShape}, "elements"},
		{[]string{"--plan", runFails, "--backend", "cpu"}, "node bad"},
		{[]string{"--plan", good, "--devices", "0"}, "--devices"},
		{[]string{"--plan", good, "--streams", "-1"}, "--streams"},
		{[]string{"--plan", good, "--repeat", "-2"}, "--repeat"},
		{[]string{"--plan", good, "--policy", "random"}, "--policy"},
		{[]string{"--plan", good, "--backend", "tpu"}, "unknown backend"},
		{[]string{"--plan", good, "--frobnicate"}, "frobnicate"},
		{[]string{"--backend", "cpu", "--plan", good, "extra"}, "unexpected argument"},
		{[]string{"--plan", good, "--trace", dir}, "directory"},
	} {
		args := append([]string{"run"}, c.args...)
		if !strings.Contains(strings.Join(c.args, " "), "--trace") {
			args = append(args, "--trace", trace)
		}
		msg := requireUserError(t, dir, []string{trace}, args...)
		require.Contains(t, msg, c.msg)
	}
}
