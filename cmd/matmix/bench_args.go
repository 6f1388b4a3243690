package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/matmix/matmix/bench"
	cudabackend "github.com/matmix/matmix/cuda/backend"
)

// benchFlags are the command line of one `matmix bench` workload.
type benchFlags struct {
	workload string
	fs       *flag.FlagSet

	backend    string
	device     int
	threads    int
	json, csv  string
	benchfmt   string
	timeline   string
	plot       string
	minTime    seconds
	maxTime    seconds
	cooldown   seconds
	idleTime   seconds
	maxNoise   float64
	minSamples int
	quick      bool
	cold       bool
	noCheck    bool
	seeds      intList
	peakGFLOPS float64
	peakGBPS   float64
	autotune   bool
	tuneCache  string

	// Sizes, each a sweep; empty means the workload's default.
	batch, n, blocks  intList
	b, t, h, k, v     intList
	form              stringList
	m, group          intList
	int8Frac          floatList
	mtx, gen          stringList
	scale, edgeFactor intList
	dtype             stringList // monarch, gla, spgemm; empty: float32
	math              string     // monarch: precise or tf32
}

func newBenchFlags(workload string) *benchFlags {
	f := &benchFlags{workload: workload, fs: flag.NewFlagSet("bench "+workload, flag.ContinueOnError)}
	fs := f.fs
	// Parse's errors come back as one line; the flag package prints nothing.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&f.backend, "backend", "auto", "auto, cpu or cuda (auto: cuda where a usable GPU is found, else cpu)")
	fs.IntVar(&f.device, "device", 0, "GPU index for the cuda backend")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads (0: all)")
	fs.StringVar(&f.json, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&f.csv, "csv", "", "write one flat CSV row per configuration to `FILE`")
	fs.StringVar(&f.benchfmt, "benchfmt", "", "write Go benchmark format (for benchstat) to `FILE`")
	fs.StringVar(&f.timeline, "timeline", "", "write the power timeline as CSV to `FILE`")
	fs.StringVar(&f.plot, "plot", "", "plot time, energy and the roofline to `FILE` (.png or .svg)")
	fs.Var(&f.minTime, "min-time", "minimum total sample time per configuration, seconds (default 0.5)")
	fs.Var(&f.maxTime, "max-time", "timeout per configuration, seconds (default 15)")
	fs.Var(&f.cooldown, "cooldown", "pause before each configuration, seconds (default 0)")
	fs.Var(&f.idleTime, "idle-time", "idle power measurement before the first configuration, seconds (default 1)")
	fs.Float64Var(&f.maxNoise, "max-noise", 0, "relative noise (stddev/mean) to stop at, e.g. 0.005 (default 0.005)")
	fs.IntVar(&f.minSamples, "min-samples", 0, "minimum samples per configuration (default 10)")
	fs.BoolVar(&f.quick, "quick", false, "small sizes and short measurements (about a second per configuration)")
	fs.BoolVar(&f.cold, "cold", false, "flush the host caches before every sample")
	fs.BoolVar(&f.noCheck, "no-check", false, "skip the check against the float64 reference")
	fs.Float64Var(&f.peakGFLOPS, "peak-gflops", 0, "device compute peak for the roofline, GFLOP/s")
	fs.Float64Var(&f.peakGBPS, "peak-gbs", 0, "device memory bandwidth for the roofline, GB/s")
	fs.BoolVar(&f.autotune, "autotune", false, "cuda: time every candidate kernel plan of each shape on the device and cache the winner")
	fs.StringVar(&f.tuneCache, "autotune-cache", "", "autotune cache `FILE` (default $"+cudabackend.TuneCacheEnv+", else the user cache directory's matmix/autotune.json)")
	switch workload {
	case "monarch":
		fs.Var(&f.batch, "batch", "rows of x (default 4096; --quick 256)")
		fs.Var(&f.n, "n", "input and output width (default 4096; --quick 1024)")
		fs.Var(&f.blocks, "blocks", "diagonal blocks per factor; must divide n (default 64; --quick 32)")
		fs.Var(&f.dtype, "dtype", "float32, float16 or bfloat16 (default float32)")
		fs.StringVar(&f.math, "math", "precise", "cuda, float32: precise (FMAs) or tf32 (tensor cores, operands rounded to tf32)")
	case "gla":
		fs.Var(&f.b, "b", "batch (default 1)")
		fs.Var(&f.t, "t", "tokens (default 4096; --quick 512)")
		fs.Var(&f.h, "h", "heads (default 8; --quick 2)")
		fs.Var(&f.k, "k", "key width (default 64)")
		fs.Var(&f.v, "v", "value width (default 64)")
		fs.Var(&f.form, "form", "chunked or recurrent (default chunked)")
		fs.Var(&f.dtype, "dtype", "float32, float16 or bfloat16 (default float32)")
	case "w4a4":
		fs.Var(&f.m, "m", "rows of x (default 2048; --quick 256)")
		fs.Var(&f.n, "n", "rows of w, output channels (default 2048; --quick 256)")
		fs.Var(&f.k, "k", "inner dimension (default 2048; --quick 256)")
		fs.Var(&f.group, "group", "quantization group size along k (default 128)")
		fs.Var(&f.int8Frac, "int8-frac", "share of activation groups kept at 8 bits (default 0)")
	case "spgemm":
		fs.Var(&f.mtx, "mtx", "Matrix Market `FILE`(s) A; C = A*A (A*A^T when A is not square)")
		fs.Var(&f.gen, "gen", "generate A: rmat or er (default rmat)")
		fs.Var(&f.scale, "scale", "2^scale rows (default 16; --quick 10)")
		fs.Var(&f.edgeFactor, "ef", "entries per row before duplicates merge (default 16; --quick 8)")
		fs.Var(&f.dtype, "dtype", "value type: float32 or float64 (default float32)")
	case "sgemm":
		fs.Var(&f.n, "n", "matrix size (default 2048; --quick 256)")
	}
	seedUsage := "seed of the random inputs (default: fresh, printed in the JSON)"
	if workload == "spgemm" {
		seedUsage = "generator seed(s) (default 1)"
	}
	fs.Var(&f.seeds, "seed", seedUsage)
	return f
}

// parse parses and checks the flags, and that outputs can be written,
// before anything runs.
func (f *benchFlags) parse(args []string, stdout io.Writer) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: matmix bench %s [flags]\n\nflags:\n", f.workload)
			f.fs.SetOutput(stdout)
			f.fs.PrintDefaults()
			f.fs.SetOutput(io.Discard)
			return err
		}
		return fmt.Errorf("bench %s: %w", f.workload, err)
	}
	if f.fs.NArg() > 0 {
		return benchErr("unexpected argument %q (flags take the form --name value)", f.fs.Arg(0))
	}
	seen := map[string]string{}
	for _, o := range []struct{ flag, path string }{
		{"json", f.json}, {"csv", f.csv}, {"benchfmt", f.benchfmt}, {"timeline", f.timeline}, {"plot", f.plot}} {
		if o.path == "" {
			continue
		}
		if other, ok := seen[filepath.Clean(o.path)]; ok {
			return benchErr("--%s and --%s name the same file %s", other, o.flag, o.path)
		}
		seen[filepath.Clean(o.path)] = o.flag
		if err := checkOutputPath(o.path); err != nil {
			return benchErr("--%s: %v", o.flag, err)
		}
	}
	if f.plot != "" && plotFormat(f.plot) != "png" && plotFormat(f.plot) != "svg" {
		return benchErr("--plot %s: the file name must end in .png or .svg", f.plot)
	}
	for _, s := range f.seeds {
		if s < 0 {
			return benchErr("--seed must be >= 0, got %d", s)
		}
	}
	if f.workload != "spgemm" && len(f.seeds) > 1 {
		return benchErr("--seed takes one value for %s", f.workload)
	}
	if f.math != "" && f.math != "precise" && f.math != "tf32" {
		return benchErr("--math must be precise or tf32, got %q", f.math)
	}
	return nil
}

// options are the harness options: the defaults (or --quick's) with the
// flags given on top.
func (f *benchFlags) options() (bench.Options, error) {
	o := bench.DefaultOptions()
	if f.quick {
		o = bench.QuickOptions()
	}
	o.MinTime = f.minTime.or(o.MinTime)
	o.MaxTime = f.maxTime.or(o.MaxTime)
	o.Cooldown = f.cooldown.or(o.Cooldown)
	o.IdleTime = f.idleTime.or(o.IdleTime)
	if f.maxNoise != 0 {
		o.MaxNoise = f.maxNoise
	}
	if f.minSamples != 0 {
		o.MinSamples = f.minSamples
	}
	o.Cold, o.NoCheck = f.cold, f.noCheck
	if f.workload != "spgemm" && len(f.seeds) == 1 {
		o.Seed = uint64(f.seeds[0])
	}
	if err := o.Validate(); err != nil {
		return o, err // already "bench: ..."
	}
	return o, nil
}

// quickOr picks the quick default or the full one.
func (f *benchFlags) quickOr(quick, full int) int {
	if f.quick {
		return quick
	}
	return full
}
