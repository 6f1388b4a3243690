package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/matmix/matmix/bench/meter"
)

// ErrCheck is the kind of error a configuration whose result disagrees
// with the reference returns: a wrong kernel is not timed.
var ErrCheck = errors.New("result does not match the reference")

// timelineInterval is the power timeline's sampling period.
const timelineInterval = 10 * time.Millisecond

// Harness measures cases one after another on one meter.
type Harness struct {
	opts     Options
	meter    meter.Meter
	ceil     Ceilings
	progress io.Writer
	seed     uint64
	rng      *rand.Rand
	flush    *flusher

	period    time.Duration
	minWindow time.Duration
	idleW     *float64
	idleNote  string
	sampler   *meter.Sampler
}

// New returns a harness. progress, when not nil, receives one line per
// step (the CLI passes standard error only when it is a terminal).
func New(opts Options, m meter.Meter, ceil Ceilings, progress io.Writer) (*Harness, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	h := &Harness{opts: opts, meter: m, ceil: ceil, progress: progress, seed: seed,
		rng: rand.New(rand.NewPCG(seed, 0x62656e6368))}
	if opts.Cold {
		h.flush = newFlusher(opts.FlushBytes)
	}
	return h, nil
}

// Seed is the seed of the input generators (print it to replay a run).
func (h *Harness) Seed() uint64 { return h.seed }

func (h *Harness) progressf(format string, args ...any) {
	if h.progress != nil {
		fmt.Fprintf(h.progress, "matmix bench: "+format+"\n", args...)
	}
}

// Start prepares the energy measurement: it finds the counter's update
// period, measures idle power, and starts the power timeline when asked.
// Without a working meter it does nothing (energy will be null).
func (h *Harness) Start(ctx context.Context, timeline bool) error {
	if h.meter.Err() != nil {
		return nil
	}
	if timeline {
		h.sampler = meter.StartSampler(h.meter, timelineInterval)
		h.sampler.SetLabel("idle")
	}
	h.period = h.meter.Counter().UpdatePeriod
	if h.period == 0 {
		h.progressf("probing the %s counter's update period", h.meter.Name())
		p, err := meter.ProbePeriod(ctx, h.meter, min(time.Second, h.opts.MaxEnergyTime))
		if err != nil {
			h.idleNote = "probe: " + err.Error()
			return ctx.Err()
		}
		h.period = p
	}
	// Ten periods keep the counter's quantization under ~10% of a window.
	h.minWindow = max(h.opts.MinEnergyWindow, 10*h.period)
	h.progressf("measuring idle power for %v", max(h.opts.IdleTime, h.minWindow))
	w, err := measureIdle(ctx, h.meter, max(h.opts.IdleTime, h.minWindow), h.opts.MaxEnergyTime)
	if err != nil {
		h.idleNote = "idle power: " + err.Error()
		return ctx.Err()
	}
	h.idleW = fptr(w)
	return nil
}

// MeterInfo describes the meter as the JSON output's "meter" object.
type MeterInfo struct {
	Name          string   `json:"name"`
	Available     bool     `json:"available"`
	Reason        string   `json:"reason,omitempty"`
	StepJ         float64  `json:"step_j,omitempty"`
	UpdatePeriodS *float64 `json:"update_period_s"`
	MinWindowS    *float64 `json:"min_window_s"`
	IdlePowerW    *float64 `json:"idle_power_w"`
	Note          string   `json:"note,omitempty"`
}

// MeterInfo reports the meter, its counter and the idle power.
func (h *Harness) MeterInfo() MeterInfo {
	mi := MeterInfo{Name: h.meter.Name(), Available: h.meter.Err() == nil, IdlePowerW: h.idleW, Note: h.idleNote}
	if err := h.meter.Err(); err != nil {
		mi.Reason = err.Error()
		return mi
	}
	mi.StepJ = h.meter.Counter().StepJ
	if h.period > 0 {
		mi.UpdatePeriodS = fptr(h.period.Seconds())
	}
	if h.minWindow > 0 {
		mi.MinWindowS = fptr(h.minWindow.Seconds())
	}
	return mi
}

// Finish stops the timeline and returns it (nil without one).
func (h *Harness) Finish() ([]meter.Sample, error) {
	if h.sampler == nil {
		return nil, nil
	}
	s, err := h.sampler.Stop()
	h.sampler = nil
	return s, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run measures one case. The result is filled as far as it got; the error
// says why it stopped (preparing, running, or a failed check: ErrCheck).
func (h *Harness) Run(ctx context.Context, c Case) (Result, error) {
	res := Result{Name: c.Name(), Op: c.Op, Backend: c.Backend, Params: map[string]any{}, Cache: "hot",
		Flops: c.FLOPs, Bytes: c.Bytes, Compute: c.Compute, ParamList: c.Params}
	if h.opts.Cold {
		res.Cache = "cold"
	}
	for _, p := range c.Params {
		res.Params[p.Key] = p.Value
	}
	fail := func(err error) (Result, error) {
		res.Error = err.Error()
		return res, err
	}
	if err := sleepCtx(ctx, h.opts.Cooldown); err != nil {
		return fail(err)
	}
	if h.sampler != nil {
		h.sampler.SetLabel(res.Name)
	}
	h.progressf("%s: preparing inputs", res.Name)
	inst, err := c.Prepare(ctx, h.rng)
	if err != nil {
		return fail(err)
	}
	if inst.Close != nil {
		defer inst.Close()
	}
	res.Before = h.meter.State()

	// The first run is both the check and the warm-up; one more run warms
	// what the check itself evicted.
	if err := inst.Run(ctx); err != nil {
		return fail(err)
	}
	switch {
	case h.opts.NoCheck:
		res.Check = Skipped("checks disabled (--no-check)")
	case inst.Check == nil:
		res.Check = Skipped("no reference for this workload")
	default:
		h.progressf("%s: checking against the reference", res.Name)
		res.Check = inst.Check(ctx)
		if res.Check.Status == "failed" {
			return fail(fmt.Errorf("%s: %w: %s %.3g > tolerance %.3g%s", res.Name, ErrCheck,
				res.Check.Metric, res.Check.Error, res.Check.Tol, subsetNote(res.Check)))
		}
	}
	if inst.FLOPs > 0 {
		res.Flops = inst.FLOPs
	}
	if inst.Bytes > 0 {
		res.Bytes = inst.Bytes
	}
	res.Extra = inst.Extra
	res.Plan = inst.Plan
	if err := inst.Run(ctx); err != nil {
		return fail(err)
	}

	h.progressf("%s: sampling", res.Name)
	if err := h.sample(ctx, inst, &res); err != nil {
		return fail(err)
	}
	// A host workload under a GPU meter: neither the GPU's energy nor its
	// ceilings describe it.
	offDevice := c.Host && strings.HasPrefix(h.meter.Name(), "nvml")
	if !offDevice {
		h.figures(&res)
		if err := h.energy(ctx, inst, &res); err != nil {
			return fail(err)
		}
	} else {
		h.figuresNoRoofline(&res)
		res.EnergyNote = "runs on the host; the meter measures " + h.meter.Name()
	}
	res.After = h.meter.State()
	h.progressf("%s: median %s, %d samples", res.Name, time.Duration(res.MedianS*1e9), res.Samples)
	return res, nil
}

func subsetNote(c Check) string {
	s := ""
	if c.Subset != "" {
		s = " on " + c.Subset
	}
	if c.Note != "" {
		s += ": " + c.Note
	}
	return s
}

// sample takes timed samples until the stopping rule says so.
func (h *Harness) sample(ctx context.Context, inst *Instance, res *Result) error {
	rule := ruleOf(h.opts)
	var times []float64
	var total time.Duration
	start := time.Now()
	for {
		if h.flush != nil {
			h.flush.flush()
		}
		t0 := time.Now()
		if err := inst.Run(ctx); err != nil {
			return err
		}
		d := time.Since(t0)
		total += d
		times = append(times, d.Seconds())
		if st := rule.check(times, total, time.Since(start)); st.done {
			res.Converged, res.Stop = st.converged, st.reason
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	s := summarize(times)
	res.Times = times
	res.Samples = len(times)
	res.MedianS, res.P10S, res.P90S, res.MeanS, res.Noise = s.median, s.p10, s.p90, s.mean, s.noise
	if len(times) < 2 {
		res.Noise = 0 // one sample has no spread to report; Converged says it did not converge
	}
	return nil
}

// figuresNoRoofline derives throughput from the median.
func (h *Harness) figuresNoRoofline(res *Result) {
	if res.MedianS <= 0 {
		return
	}
	res.GFLOPS = res.Flops / res.MedianS / 1e9
	res.GBPS = res.Bytes / res.MedianS / 1e9
	if res.Bytes > 0 {
		res.Intensity = res.Flops / res.Bytes
	}
}

// figures derives throughput and the roofline position from the median.
func (h *Harness) figures(res *Result) {
	h.figuresNoRoofline(res)
	if a := h.ceil.Attainable(res.Compute, res.Intensity); a > 0 {
		res.RooflinePct = fptr(100 * res.GFLOPS / a)
	}
}

// energy measures one run's energy in a lengthened counter window. A meter
// that cannot measure, or fails now (a device lost mid-run), leaves the
// energy null with the reason; only a cancelled context is an error.
func (h *Harness) energy(ctx context.Context, inst *Instance, res *Result) error {
	if err := h.meter.Err(); err != nil {
		res.EnergyNote = "no energy meter: " + err.Error()
		return nil
	}
	h.progressf("%s: measuring energy", res.Name)
	ew, err := measureEnergy(ctx, h.meter, inst.Run, time.Duration(res.MedianS*1e9), h.minWindow, h.opts.MaxEnergyTime)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var me *meterError
		if !errors.As(err, &me) {
			return err
		}
		res.EnergyNote = err.Error()
		return nil
	}
	perRun := ew.window.Seconds() / float64(ew.runs)
	j := ew.joules / float64(ew.runs)
	res.EnergyJ = fptr(j)
	res.EnergyRuns = ew.runs
	res.EnergyWindowS = ew.window.Seconds()
	res.AvgPowerW = fptr(ew.joules / ew.window.Seconds())
	if h.idleW != nil {
		res.EnergyAboveIdleJ = fptr(j - *h.idleW*perRun)
	}
	if j > 0 {
		res.GFLOPPerJ = fptr(res.Flops / 1e9 / j)
	}
	res.EDP = fptr(j * res.MedianS)
	return nil
}
