package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"

	"github.com/matmix/matmix/bench"
	"github.com/matmix/matmix/bench/meter"
)

func f(v float64) *float64 { return &v }

// sampleReport has one configuration with energy and one without, on a
// device with known ceilings.
func sampleReport() *Report {
	times := []float64{1e-3, 1.1e-3, 0.9e-3, 1.05e-3, 1e-3, 0.95e-3, 1.02e-3, 1e-3, 0.98e-3, 1.01e-3, 1e-3, 1.03e-3}
	withE := bench.Result{
		Name: "monarch/batch=8/n=64/blocks=8", Op: "monarch", Backend: "cuda:0", Samples: len(times), Times: times,
		MedianS: 1e-3, P10S: 0.95e-3, P90S: 1.05e-3, Noise: 0.004, Converged: true, Flops: 2e9, Bytes: 1e8, GFLOPS: 2000, GBPS: 100,
		Intensity: 20, RooflinePct: f(12.5), EnergyJ: f(0.3), EnergyAboveIdleJ: f(0.2), AvgPowerW: f(300), GFLOPPerJ: f(6.67), EDP: f(3e-4),
		Check: bench.Check{Status: "ok", Subset: "rows 0..3 of 8"}, Compute: "fp32",
		ParamList: []bench.Param{{Key: "batch", Value: 8}, {Key: "n", Value: 64}, {Key: "blocks", Value: 8}},
		Params:    map[string]any{"batch": 8, "n": 64, "blocks": 8}, Before: meter.State{ClockMHz: f(1980)},
	}
	noE := bench.Result{
		Name: "w4a4/m=8/n=8/k=64", Op: "w4a4", Backend: "cuda:0", Samples: 3, Times: []float64{2e-3, 3e-3, 2.5e-3},
		MedianS: 2.5e-3, Noise: 0.2, Converged: false, Flops: 4e9, Bytes: 1e7, GFLOPS: 1600, GBPS: 4, Intensity: 400,
		EnergyNote: "energy counter did not move", Check: bench.Check{Status: "ok"}, Compute: "int8",
		ParamList: []bench.Param{{Key: "m", Value: 8}, {Key: "name", Value: "a b"}}, Extra: map[string]float64{"quant_rel_err": 0.05},
	}
	failed := bench.Result{Name: "spgemm/gen=er", Op: "spgemm", Backend: "cuda:0", Error: "spgemm: not supported | by this backend"}
	return &Report{
		Device: bench.DeviceInfo{Backend: "cuda:0", Threads: 2, CPU: bench.CPUInfo{Model: "Some CPU 9000"},
			GPU: &meter.GPUInfo{Name: "NVIDIA H100 80GB HBM3"}, Ceilings: &bench.Ceilings{FP32GFLOPS: 67e3, INT8GOPS: 1979e3, GBPS: 3350}},
		Meter:   bench.MeterInfo{Name: "nvml:0", Available: true, UpdatePeriodS: f(0.02), IdlePowerW: f(70)},
		Results: []bench.Result{withE, noE, failed},
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteMarkdown(&b, sampleReport()))
	s := b.String()
	lines := strings.Split(s, "\n")
	assert.Equal(t, "| monarch/batch=8/n=64/blocks=8 | cuda:0 | 12 | 1ms | 950µs | 1.05ms | 0.40% | 2000 | 100 | 12.5% | 0.3 | 300 | 6.67 | ok (rows 0..3 of 8) |", lines[2])
	assert.Contains(t, lines[3], "| 20.00%* |")
	assert.Contains(t, lines[3], "| n/a | n/a | n/a | n/a | ok |")
	assert.Contains(t, lines[4], "error: spgemm: not supported \\| by this backend")
	assert.Contains(t, s, "Energy: nvml:0 counter, updates every 20ms, idle power 70 W.")
	assert.Contains(t, s, "\\* noise above the threshold")

	r := sampleReport()
	r.Meter = bench.MeterInfo{Name: "none", Reason: "no rapl zones"}
	b.Reset()
	require.NoError(t, WriteMarkdown(&b, r))
	assert.Contains(t, b.String(), "Energy: not measured (no rapl zones).")
}

func TestWriteJSONNulls(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, sampleReport()))
	var got struct {
		Device  map[string]any   `json:"device"`
		Meter   map[string]any   `json:"meter"`
		Results []map[string]any `json:"results"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &got))
	assert.Equal(t, 0.3, got.Results[0]["energy_j"])
	assert.Contains(t, got.Results[1], "energy_j")
	assert.Nil(t, got.Results[1]["energy_j"])
	assert.Nil(t, got.Results[1]["avg_power_w"])
	assert.Nil(t, got.Results[1]["roofline_pct"])
	assert.Equal(t, "energy counter did not move", got.Results[1]["energy_note"])
	assert.Equal(t, 1980.0, got.Results[0]["state_before"].(map[string]any)["clock_mhz"])

	var empty bytes.Buffer
	require.NoError(t, WriteJSON(&empty, &Report{}))
	assert.Contains(t, empty.String(), `"results": []`)
	assert.Contains(t, empty.String(), `"ceilings": null`)
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteCSV(&b, sampleReport()))
	rows, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	h := rows[0]
	col := func(name string) int {
		i := indexOf(h, name)
		require.GreaterOrEqual(t, i, 0, name)
		return i
	}
	for _, r := range rows {
		require.Len(t, r, len(h))
	}
	assert.Equal(t, "0.3", rows[1][col("energy_j")])
	assert.Equal(t, "", rows[2][col("energy_j")], "null is an empty cell")
	assert.Equal(t, "8", rows[1][col("param_batch")])
	assert.Equal(t, "", rows[2][col("param_batch")])
	assert.Equal(t, "a b", rows[2][col("param_name")])
	assert.Equal(t, "0.05", rows[2][col("extra_quant_rel_err")])
	assert.Equal(t, "70", rows[1][col("idle_power_w")])
	assert.Equal(t, "NVIDIA H100 80GB HBM3", rows[1][col("device")])
	assert.Equal(t, "1980", rows[1][col("clock_mhz_before")])
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

func TestWriteBenchfmt(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteBenchfmt(&b, sampleReport()))
	r := benchfmt.NewReader(&b, "x.txt")
	var names []string
	perName := map[string]int{}
	energyLines := 0
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Fatal(rec)
		case *benchfmt.Result:
			n := string(rec.Name.Full())
			if perName[n] == 0 {
				names = append(names, n)
			}
			perName[n]++
			assert.Equal(t, "cuda:0", string(rec.GetConfig("backend")))
			assert.Equal(t, "NVIDIA_H100_80GB_HBM3", string(rec.GetConfig("gpu")))
			if _, ok := rec.Value("J/op"); ok {
				energyLines++
			}
			sec, ok := rec.Value("sec/op")
			require.True(t, ok)
			gf, ok := rec.Value("GFLOP/s")
			require.True(t, ok)
			flops := map[string]float64{"Monarch/batch=8/n=64/blocks=8-2": 2e9, "W4A4/m=8/name=a_b-2": 4e9}[n]
			assert.InDelta(t, flops/sec/1e9, gf, 1e-3*gf)
		}
	}
	require.NoError(t, r.Err())
	// The failed configuration has no samples: no line.
	assert.Equal(t, []string{"Monarch/batch=8/n=64/blocks=8-2", "W4A4/m=8/name=a_b-2"}, names)
	assert.Equal(t, 10, perName[names[0]], "12 samples in 10 batches")
	assert.Equal(t, 3, perName[names[1]], "fewer samples than 10: one line each")
	assert.Equal(t, 1, energyLines, "one energy window per configuration: J/op once")
	assert.Equal(t, 1, r.Units().GetBetter("GFLOP/s"))
	assert.Equal(t, -1, r.Units().GetBetter("J/op"))
}

func TestWriteTimeline(t *testing.T) {
	samples := []meter.Sample{{T: 10 * time.Millisecond, Watts: 70, Source: "instant", Label: "idle"},
		{T: 20 * time.Millisecond, Watts: 300.5, Source: "instant", Label: "monarch/n=64"}}
	var b bytes.Buffer
	require.NoError(t, WriteTimeline(&b, samples))
	assert.Equal(t, "t_s,power_w,source,config\n0.01,70,instant,idle\n0.02,300.5,instant,monarch/n=64\n", b.String())
}

func TestWritePlot(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	require.NoError(t, WritePlot(&b, "png", r))
	img, err := png.Decode(&b)
	require.NoError(t, err)
	assert.Equal(t, 1440, img.Bounds().Dx())

	b.Reset()
	require.NoError(t, WritePlot(&b, "svg", r))
	s := b.String()
	assert.True(t, strings.HasPrefix(s, "<?xml"))
	for _, label := range []string{"work per run (GFLOP)", "median time per run (s)", "energy per run (J)",
		"arithmetic intensity (FLOP/byte)", "achieved GFLOP/s", "fp32 roof", "int8 roof"} {
		assert.Contains(t, s, label)
	}

	// No results, no meter, no ceilings: still a plot, no panic.
	b.Reset()
	require.NoError(t, WritePlot(&b, "png", &Report{}))
	assert.Error(t, WritePlot(io.Discard, "gif", r))
}

func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.json")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o644))
	boom := errors.New("boom")
	err := WriteFile(p, func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	})
	require.ErrorIs(t, err, boom)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "old", string(b))
	ents, _ := os.ReadDir(dir)
	assert.Len(t, ents, 1, "no temporary file left")
	require.NoError(t, WriteFile(p, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }))
	b, _ = os.ReadFile(p)
	assert.Equal(t, "new", string(b))
}
