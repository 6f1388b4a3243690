package report

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/matmix/matmix/bench"
)

// benchfmtLines is how many result lines a configuration gets at most: its
// samples are split into this many consecutive batches, like `go test
// -count=10`, so that benchstat sees a distribution within one run.
const benchfmtLines = 10

// benchNames are the benchmark names of the workloads (the Go format needs
// an upper-case letter after "Benchmark").
var benchNames = map[string]string{
	"monarch": "Monarch", "gla": "GLA", "w4a4": "W4A4", "spgemm": "SpGEMM", "sgemm": "SGEMM",
}

// WriteBenchfmt writes the results in the Go benchmark format
// (golang.org/x/perf/benchfmt) so that `benchstat old.txt new.txt`
// compares two runs. Each configuration gets up to 10 lines, each the mean
// of a batch of consecutive samples: ns/op, GFLOP/s and GB/s. The energy is
// one window per configuration, so J/op and W appear on the first line only
// (benchstat shows them with n=1; concatenate the files of repeated runs to
// give it more).
func WriteBenchfmt(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "goos: %s\ngoarch: %s\npkg: github.com/matmix/matmix/bench\n", runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(bw, "cpu: %s\nbackend: %s\n", oneWord(r.Device.CPU.Model), r.Device.Backend)
	if r.Device.GPU != nil {
		fmt.Fprintf(bw, "gpu: %s\n", oneWord(r.Device.GPU.Name))
	}
	fmt.Fprintf(bw, "meter: %s\n", r.Meter.Name)
	// Unit metadata: which direction is better, for benchstat's deltas.
	fmt.Fprintf(bw, "Unit GFLOP/s better=higher\nUnit GB/s better=higher\nUnit J/op better=lower\nUnit W better=lower\n")
	procs := r.Device.Threads
	if procs <= 0 {
		procs = runtime.GOMAXPROCS(0)
	}
	for _, res := range r.Results {
		if res.Samples == 0 {
			continue
		}
		name := BenchName(res, procs)
		n := len(res.Times)
		lines := min(n, benchfmtLines)
		for i := range lines {
			lo, hi := i*n/lines, (i+1)*n/lines
			var sum float64
			for _, t := range res.Times[lo:hi] {
				sum += t
			}
			mean := sum / float64(hi-lo)
			fmt.Fprintf(bw, "%s\t%d\t%.1f ns/op", name, hi-lo, mean*1e9)
			if res.Flops > 0 {
				fmt.Fprintf(bw, "\t%.4g GFLOP/s", res.Flops/mean/1e9)
			}
			if res.Bytes > 0 {
				fmt.Fprintf(bw, "\t%.4g GB/s", res.Bytes/mean/1e9)
			}
			if i == 0 && res.EnergyJ != nil {
				fmt.Fprintf(bw, "\t%.6g J/op", *res.EnergyJ)
				if res.AvgPowerW != nil {
					fmt.Fprintf(bw, "\t%.5g W", *res.AvgPowerW)
				}
			}
			fmt.Fprintln(bw)
		}
	}
	return bw.Flush()
}

// BenchName is "Benchmark<Op>/key=value/...-<procs>", the name benchstat
// groups by; spaces in values become underscores.
func BenchName(res bench.Result, procs int) string {
	var b strings.Builder
	b.WriteString("Benchmark")
	op := benchNames[res.Op]
	if op == "" {
		op = strings.ToUpper(res.Op[:1]) + res.Op[1:]
	}
	b.WriteString(op)
	for _, p := range res.ParamList {
		fmt.Fprintf(&b, "/%s=%s", p.Key, oneWord(fmt.Sprint(p.Value)))
	}
	fmt.Fprintf(&b, "-%d", procs)
	return b.String()
}

// oneWord replaces white space, which would split a benchfmt field.
func oneWord(s string) string {
	return strings.Join(strings.Fields(s), "_")
}
