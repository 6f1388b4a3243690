package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/term"

	"github.com/matmix/matmix/bench"
	"github.com/matmix/matmix/bench/meter"
	"github.com/matmix/matmix/bench/report"
	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/errs"
)

const benchUsage = `usage: matmix bench <workload> [flags]

workloads (size flags take one value or a comma-separated sweep, e.g. --n 1024,2048):
  monarch  --batch 4096 --n 4096 --blocks 64 [--dtype float32|float16|bfloat16] [--math precise|tf32]
  gla      --b 1 --t 4096 --h 8 --k 64 --v 64 [--form chunked|recurrent] [--dtype float32|float16|bfloat16]
  w4a4     --m 2048 --n 2048 --k 2048 [--group 128] [--int8-frac 0]
  spgemm   --mtx A.mtx | --gen rmat|er --scale 16 --ef 16 --seed 1 [--dtype float32|float64]
  sgemm    --n 2048        (the dense float32 baseline, on the CPU)
  all      every workload at its default size (small sizes with --quick)
  (--dtype sweeps too, e.g. --dtype float32,bfloat16; --math tf32: float32 monarch on the cuda tensor cores)
common flags:
  --backend auto|cpu|cuda  --json FILE  --csv FILE  --benchfmt FILE  --timeline FILE  --plot FILE.png|.svg
  --min-time S  --max-time S  --max-noise F  --min-samples N  --quick  --cold  --no-check
  --cooldown S  --idle-time S  --seed N  --threads N  --device N  --peak-gflops G  --peak-gbs B
  --autotune  --autotune-cache FILE   (cuda: time the kernel plans of each shape, cache the winner)
A Markdown table goes to standard output; docs/benchmarking.md explains every column.
Run 'matmix bench <workload> -h' for a workload's flags.`

var benchWorkloads = []string{"monarch", "gla", "w4a4", "spgemm", "sgemm"}

// benchCmd times workloads: matmix bench monarch|gla|w4a4|spgemm|sgemm|all.
func benchCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("bench: missing workload (want monarch, gla, w4a4, spgemm, sgemm or all)")
	}
	wl := args[0]
	switch wl {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, benchUsage)
		return flag.ErrHelp
	case "all":
	default:
		if !contains(benchWorkloads, wl) {
			return fmt.Errorf("bench: unknown workload %q (want monarch, gla, w4a4, spgemm, sgemm or all)", wl)
		}
	}
	f := newBenchFlags(wl)
	if err := f.parse(args[1:], stdout); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return f.run(ctx, stdout, stderr)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// run opens the engine and the meter, builds the cases, measures them and
// writes every output asked for. Configurations that fail do not stop the
// others; the first failure is returned at the end, after the outputs.
func (f *benchFlags) run(ctx context.Context, stdout, stderr io.Writer) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	e, err := engine.Open(engine.WithBackend(f.backend), engine.WithDevice(f.device), engine.WithThreads(f.threads))
	if err != nil {
		return fmt.Errorf("bench: --backend %s: %w", f.backend, err)
	}
	defer e.Close()
	cases, err := f.cases(e, opts)
	if err != nil {
		return err
	}
	m := meter.ForBackend(e.Backend())
	defer m.Close()
	dev := f.describeDevice(e)
	tn, err := f.openTuner(ctx, e, &dev, stderr)
	if err != nil {
		return err
	}
	defer tn.close()
	tn.wrap(cases)
	var progress io.Writer
	if isTerminal(stderr) {
		progress = stderr
	}
	var ceil bench.Ceilings
	if dev.Ceilings != nil {
		ceil = *dev.Ceilings
	}
	h, err := bench.New(opts, m, ceil, progress)
	if err != nil {
		return err
	}
	if err := h.Start(ctx, f.timeline != ""); err != nil {
		return err
	}
	rep := &report.Report{Device: dev, Seed: h.Seed()}
	var first error
	failed := 0
	for _, c := range cases {
		res, err := h.Run(ctx, c)
		rep.Results = append(rep.Results, res)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("bench: interrupted: %w", ctx.Err())
			}
			failed++
			if first == nil {
				first = err
			}
		}
	}
	rep.Autotune = tn.autotuned()
	if err := tn.save(); err != nil {
		return err
	}
	samples, terr := h.Finish()
	rep.Meter = h.MeterInfo()
	if terr != nil {
		rep.Meter.Note = strings.TrimPrefix(rep.Meter.Note+"; timeline ended early: "+terr.Error(), "; ")
	}
	if err := f.write(rep, samples); err != nil {
		return err
	}
	if err := report.WriteMarkdown(stdout, rep); err != nil {
		return err
	}
	if first != nil {
		return fmt.Errorf("bench: %d of %d configurations failed, the first: %w", failed, len(cases), first)
	}
	return nil
}

// describeDevice describes the machine: the CPU always, the GPU behind a cuda
// backend through NVML, and the roofline ceilings (from the GPU table or
// --peak-gflops/--peak-gbs; on cuda, openTuner replaces the table's with
// the device's measured ones).
func (f *benchFlags) describeDevice(e *engine.Engine) bench.DeviceInfo {
	threads := f.threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	d := bench.DeviceInfo{Backend: e.Backend(), BackendReason: e.Reason(), Threads: threads,
		GoVersion: runtime.Version(), CPU: bench.DescribeCPU()}
	if strings.HasPrefix(e.Backend(), "cuda") {
		gl := meter.ListGPUs()
		d.Driver = gl.Driver
		for i := range gl.GPUs {
			if gl.GPUs[i].Index == f.device {
				d.GPU = &gl.GPUs[i]
				if c, ok := bench.CeilingsFor(d.GPU.Name); ok {
					d.Ceilings = &c
				}
			}
		}
	}
	if f.peakGFLOPS > 0 || f.peakGBPS > 0 {
		if d.Ceilings == nil {
			d.Ceilings = &bench.Ceilings{}
		}
		if f.peakGFLOPS > 0 {
			d.Ceilings.FP32GFLOPS, d.Ceilings.INT8GOPS = f.peakGFLOPS, f.peakGFLOPS
		}
		if f.peakGBPS > 0 {
			d.Ceilings.GBPS = f.peakGBPS
		}
		d.Ceilings.Source = "command line"
	}
	return d
}

// write writes the requested files, each atomically.
func (f *benchFlags) write(rep *report.Report, samples []meter.Sample) error {
	type out struct {
		flag, path string
		write      func(io.Writer) error
	}
	outs := []out{
		{"json", f.json, func(w io.Writer) error { return report.WriteJSON(w, rep) }},
		{"csv", f.csv, func(w io.Writer) error { return report.WriteCSV(w, rep) }},
		{"benchfmt", f.benchfmt, func(w io.Writer) error { return report.WriteBenchfmt(w, rep) }},
		{"timeline", f.timeline, func(w io.Writer) error { return report.WriteTimeline(w, samples) }},
		{"plot", f.plot, func(w io.Writer) error { return report.WritePlot(w, plotFormat(f.plot), rep) }},
	}
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		if err := report.WriteFile(o.path, o.write); err != nil {
			return fmt.Errorf("bench: --%s %s: %w", o.flag, o.path, err)
		}
	}
	return nil
}

func plotFormat(path string) string {
	return strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
}

// isTerminal reports whether w is a terminal (progress goes there only).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// benchErr is a user error of the bench command.
func benchErr(format string, args ...any) error { return errs.Argument("bench", format, args...) }
