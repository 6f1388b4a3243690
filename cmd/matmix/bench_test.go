package main

import (
	"encoding/csv"
	"encoding/json"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"

	"github.com/matmix/matmix/engine"
)

// fast keeps the CLI tests short under -race: few samples, short windows.
var fast = []string{"--min-time", "0.01", "--max-time", "0.15", "--min-samples", "2", "--idle-time", "0.05"}

// benchArgs is a bench command line with the fast settings, on the CPU
// unless args name a backend, so that the tests mean the same on a machine
// with a GPU (where "auto" is CUDA).
func benchArgs(args ...string) []string {
	out := append([]string{"bench"}, args...)
	if !slices.Contains(args, "--backend") {
		out = append(out, "--backend", "cpu")
	}
	return append(out, fast...)
}

func TestBenchAllQuickWritesEveryOutput(t *testing.T) {
	dir := t.TempDir()
	out := func(n string) string { return filepath.Join(dir, n) }
	stdout := requireOK(t, benchArgs("all", "--quick", "--backend", "cpu", "--json", out("r.json"), "--csv", out("r.csv"),
		"--benchfmt", out("r.txt"), "--timeline", out("t.csv"), "--plot", out("p.png"))...)

	// The Markdown table: a header, a rule and one row per workload.
	lines := strings.Split(stdout, "\n")
	require.GreaterOrEqual(t, len(lines), 7)
	assert.True(t, strings.HasPrefix(lines[0], "| benchmark | backend | samples | median |"))
	for i, op := range []string{"monarch/", "gla/", "w4a4/", "spgemm/", "sgemm/"} {
		assert.True(t, strings.HasPrefix(lines[2+i], "| "+op), lines[2+i])
		assert.Contains(t, lines[2+i], "| ok")
	}
	assert.Contains(t, stdout, "Energy: not measured")

	// JSON as cli.md gives it, energy null with the meter saying why.
	var rep struct {
		Device map[string]any `json:"device"`
		Meter  struct {
			Name      string `json:"name"`
			Available bool   `json:"available"`
			Reason    string `json:"reason"`
		} `json:"meter"`
		Results []map[string]any `json:"results"`
	}
	b, err := os.ReadFile(out("r.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Equal(t, "cpu", rep.Device["backend"])
	require.Len(t, rep.Results, 5)
	if !rep.Meter.Available {
		assert.NotEmpty(t, rep.Meter.Reason)
	}
	for _, r := range rep.Results {
		for _, k := range []string{"name", "op", "backend", "params", "samples", "median_s", "p10_s", "p90_s", "flops", "bytes", "gflops", "energy_j", "avg_power_w"} {
			assert.Contains(t, r, k)
		}
		assert.Positive(t, r["samples"])
		assert.Positive(t, r["median_s"])
		assert.Positive(t, r["gflops"])
		if !rep.Meter.Available {
			assert.Nil(t, r["energy_j"], "no meter: energy is null, not 0")
			assert.Nil(t, r["avg_power_w"])
		}
	}

	// CSV: one flat row per configuration, every row as wide as the header.
	f, err := os.Open(out("r.csv"))
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	require.Len(t, rows, 6)
	assert.Equal(t, "name", rows[0][0])
	assert.Contains(t, rows[0], "param_batch")
	assert.Contains(t, rows[0], "extra_nnz_c")

	// Go benchmark format that benchfmt reads back.
	res := readBenchfmt(t, out("r.txt"))
	assert.Len(t, res, 5)
	assert.Contains(t, keys(res)[0], "GLA/b=1/t=512/h=2/k=64/v=64/form=chunked/dtype=float32-")

	// The timeline CSV exists with its header (no meter: no samples).
	tl, err := os.ReadFile(out("t.csv"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(tl), "t_s,power_w,source,config\n"))

	// The plot is a PNG.
	pf, err := os.Open(out("p.png"))
	require.NoError(t, err)
	img, err := png.Decode(pf)
	pf.Close()
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 1000)

	// Nothing but the outputs in the directory: no temporary files left.
	assert.ElementsMatch(t, []string{"r.json", "r.csv", "r.txt", "t.csv", "p.png"}, listDir(t, dir))
}

// readBenchfmt parses a benchfmt file and returns the sec/op values of each
// benchmark name.
func readBenchfmt(t *testing.T, path string) map[string][]float64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := benchfmt.NewReader(f, path)
	out := map[string][]float64{}
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Fatalf("benchfmt syntax error: %v", rec)
		case *benchfmt.Result:
			v, ok := rec.Value("sec/op")
			require.True(t, ok)
			require.Positive(t, v)
			_, ok = rec.Value("GFLOP/s")
			require.True(t, ok)
			assert.Equal(t, "cpu", string(rec.GetConfig("backend")))
			out[string(rec.Name.Full())] = append(out[string(rec.Name.Full())], v)
		}
	}
	require.NoError(t, r.Err())
	return out
}

// Two runs of the same sweep compare the way benchstat does: the same
// benchmark names and configuration, and for each a distribution that the
// Mann-Whitney U test accepts.
func TestBenchBenchfmtTwoRunsCompare(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	requireOK(t, benchArgs("sgemm", "--n", "32,48", "--benchfmt", a, "--min-samples", "10")...)
	requireOK(t, benchArgs("sgemm", "--n", "32,48", "--benchfmt", b, "--min-samples", "10")...)
	ra, rb := readBenchfmt(t, a), readBenchfmt(t, b)
	require.Len(t, ra, 2)
	require.Equal(t, keys(ra), keys(rb))
	thr := benchmath.DefaultThresholds
	for name, va := range ra {
		require.Len(t, va, 10, "ten lines per configuration")
		sa := benchmath.NewSample(va, &thr)
		sb := benchmath.NewSample(rb[name], &thr)
		c := benchmath.AssumeNothing.Compare(sa, sb)
		assert.InDelta(t, 0.5, c.P, 0.5, name) // a valid p-value: benchstat can compare
		assert.Empty(t, sa.Warnings)
		assert.Regexp(t, `^SGEMM/n=(32|48)-\d+$`, name)
	}
}

func keys(m map[string][]float64) []string {
	k := slices.Collect(maps.Keys(m))
	slices.Sort(k)
	return k
}

func TestBenchSweepsAndWorkloads(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "r.json")
	requireOK(t, benchArgs("monarch", "--batch", "8,16", "--n", "64", "--blocks", "4,8", "--json", j)...)
	var rep struct {
		Results []struct {
			Name   string         `json:"name"`
			Params map[string]any `json:"params"`
			Check  struct {
				Status string `json:"status"`
			} `json:"check"`
		} `json:"results"`
	}
	b, err := os.ReadFile(j)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rep))
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Name)
		assert.Equal(t, "ok", r.Check.Status)
	}
	assert.Equal(t, []string{
		"monarch/batch=8/n=64/blocks=4/dtype=float32", "monarch/batch=8/n=64/blocks=8/dtype=float32",
		"monarch/batch=16/n=64/blocks=4/dtype=float32", "monarch/batch=16/n=64/blocks=8/dtype=float32"}, names)

	out := requireOK(t, benchArgs("gla", "--t", "32", "--h", "1", "--k", "8", "--v", "8", "--form", "chunked,recurrent")...)
	assert.Contains(t, out, "gla/b=1/t=32/h=1/k=8/v=8/form=chunked/dtype=float32")
	assert.Contains(t, out, "gla/b=1/t=32/h=1/k=8/v=8/form=recurrent/dtype=float32")
	out = requireOK(t, benchArgs("w4a4", "--m", "8", "--n", "8", "--k", "64", "--group", "32", "--int8-frac", "0,0.5")...)
	assert.Contains(t, out, "w4a4/m=8/n=8/k=64/group=32/int8-frac=0.5")
	out = requireOK(t, benchArgs("spgemm", "--gen", "rmat,er", "--scale", "6", "--ef", "4", "--seed", "1,2", "--dtype", "float64,float32")...)
	assert.Equal(t, 8, strings.Count(out, "| spgemm/"))
	assert.Contains(t, out, "spgemm/gen=er/scale=6/ef=4/seed=2/dtype=float64")
	assert.Contains(t, out, "spgemm/gen=er/scale=6/ef=4/seed=2/dtype=float32")

	// A Matrix Market file, symmetric (expanded on read).
	mtx := writeFile(t, dir, "tiny.mtx", "%%MatrixMarket matrix coordinate real symmetric\n4 4 5\n1 1 2.5\n2 1 -1\n3 2 0.5\n4 4 3\n4 3 1.5\n")
	out = requireOK(t, benchArgs("spgemm", "--mtx", mtx)...)
	assert.Contains(t, out, "| spgemm/mtx=tiny/dtype=float32 | cpu |")
	assert.Contains(t, out, "| ok |")
}

// A --dtype sweep: each dtype's configurations, outermost, each checked
// with its tolerance and counted at its element size.
func TestBenchDTypeSweep(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "r.json")
	requireOK(t, benchArgs("monarch", "--batch", "16", "--n", "64", "--blocks", "4,8", "--dtype", "bfloat16,float32,f16", "--json", j)...)
	rep := readDTypeReport(t, j)
	require.Len(t, rep, 6)
	for i, want := range []struct {
		name string
		tol  float64
	}{
		{"monarch/batch=16/n=64/blocks=4/dtype=bfloat16", 1e-2}, {"monarch/batch=16/n=64/blocks=8/dtype=bfloat16", 1e-2},
		{"monarch/batch=16/n=64/blocks=4/dtype=float32", 1e-5}, {"monarch/batch=16/n=64/blocks=8/dtype=float32", 1e-5},
		{"monarch/batch=16/n=64/blocks=4/dtype=float16", 1e-2}, {"monarch/batch=16/n=64/blocks=8/dtype=float16", 1e-2},
	} {
		assert.Equal(t, want.name, rep[i].Name)
		assert.Equal(t, "ok", rep[i].Check.Status)
		assert.Equal(t, want.tol, rep[i].Check.Tol)
	}
	assert.Equal(t, 2*rep[0].Bytes, rep[2].Bytes, "bfloat16 moves half the bytes of float32")

	requireOK(t, benchArgs("gla", "--t", "40", "--h", "1", "--k", "16", "--v", "8", "--dtype", "float16,bfloat16", "--form", "chunked,recurrent", "--json", j)...)
	rep = readDTypeReport(t, j)
	require.Len(t, rep, 4)
	assert.Equal(t, "gla/b=1/t=40/h=1/k=16/v=8/form=recurrent/dtype=float16", rep[1].Name)
	for _, r := range rep {
		assert.Equal(t, "ok", r.Check.Status, r.Name)
		assert.Equal(t, 1e-2, r.Check.Tol)
		assert.Equal(t, 2.0*(3*40*16+2*40*8), r.Bytes)
	}
}

type dtypeResult struct {
	Name  string  `json:"name"`
	Bytes float64 `json:"bytes"`
	Check struct {
		Status string  `json:"status"`
		Tol    float64 `json:"tol"`
	} `json:"check"`
}

func readDTypeReport(t *testing.T, path string) []dtypeResult {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep struct {
		Results []dtypeResult `json:"results"`
	}
	require.NoError(t, json.Unmarshal(b, &rep))
	return rep.Results
}

func TestBenchUserErrors(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "r.json")
	for _, args := range [][]string{
		{"bench"},
		{"bench", "dense"},
		{"bench", "monarch", "--bogus", "1"},
		{"bench", "monarch", "--n", "x"},
		{"bench", "monarch", "--n", "100", "--blocks", "8", "--json", j},
		{"bench", "monarch", "--batch", "0", "--json", j},
		{"bench", "monarch", "extra"},
		{"bench", "gla", "--form", "fast", "--json", j},
		{"bench", "w4a4", "--int8-frac", "1.5", "--json", j},
		{"bench", "spgemm", "--gen", "ba", "--json", j},
		{"bench", "spgemm", "--scale", "31", "--json", j},
		{"bench", "spgemm", "--mtx", filepath.Join(dir, "missing.mtx"), "--json", j},
		{"bench", "spgemm", "--mtx", "a.mtx", "--gen", "er"},
		{"bench", "spgemm", "--dtype", "int8", "--json", j},
		{"bench", "spgemm", "--dtype", "bfloat16", "--json", j},
		{"bench", "monarch", "--dtype", "float64", "--json", j},
		{"bench", "monarch", "--dtype", "float32,quad", "--json", j},
		{"bench", "gla", "--dtype", "int8", "--json", j},
		{"bench", "monarch", "--math", "fast", "--json", j},
		{"bench", "monarch", "--math", "tf32", "--backend", "cpu", "--json", j},
		{"bench", "sgemm", "--seed", "1,2"},
		{"bench", "sgemm", "--min-time", "-1"},
		{"bench", "sgemm", "--min-time", "2", "--max-time", "1"},
		{"bench", "sgemm", "--plot", filepath.Join(dir, "p.jpg")},
		{"bench", "sgemm", "--json", filepath.Join(dir, "no", "such", "dir.json")},
		{"bench", "sgemm", "--json", j, "--csv", j},
		{"bench", "sgemm", "--backend", "tpu"},
	} {
		requireUserError(t, dir, []string{j}, args...)
	}
	// Asking for CUDA where there is none is the user's error too.
	if e, err := engine.Open(engine.WithBackend("cuda")); err == nil {
		require.NoError(t, e.Close())
	} else {
		requireUserError(t, dir, []string{j}, "bench", "sgemm", "--backend", "cuda", "--json", j)
	}
}

func TestBenchHelp(t *testing.T) {
	out := requireOK(t, "bench", "-h")
	assert.Contains(t, out, "usage: matmix bench <workload>")
	out = requireOK(t, "bench", "monarch", "-h")
	assert.Contains(t, out, "-blocks")
	assert.Contains(t, out, "-benchfmt")
	assert.Contains(t, out, "-dtype")
	assert.Contains(t, out, "-math")
}
