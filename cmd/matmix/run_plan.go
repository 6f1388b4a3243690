package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/mempool"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/sched/plan"
)

const planSynopsis = "--plan PLAN.json [--backend auto|cpu|cuda] [--devices 1] [--streams 0] [--policy least-loaded] [--repeat 0] [--trace TRACE.json]"

// planArgs reports whether a run command line is a plan run: one that
// starts with flags and gives --plan (the workload commands start with
// their workload's name).
func planArgs(args []string) bool {
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return false
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "plan" {
			return true
		}
	}
	return false
}

// runPlan: matmix run --plan PLAN.json: runs the plan's mix of workloads
// through the scheduler (package sched) and prints a summary of the nodes'
// times; --trace writes the workloads as a Chrome trace for Perfetto. The
// plan's schema is in docs/runtime.md.
func runPlan(ctx context.Context, args []string, stdout io.Writer) error {
	c := newRunCommand("plan", planSynopsis, stdout)
	planPath := c.file("plan", "the plan, a JSON file (schema: docs/runtime.md)", true)
	devices := c.fs.Int("devices", 1, "number of devices (engines) to place the work on: GPUs 0..n-1, or CPU engines sharing the cores")
	streams := c.fs.Int("streams", 0, "streams per device (0: on the CPU, a split of the cores between workloads and threads; else 2)")
	policy := c.fs.String("policy", "least-loaded", "placement of nodes that name no device: least-loaded or round-robin")
	repeat := c.fs.Int("repeat", 0, "repetitions, overriding the plan's (0: the plan's)")
	tracePath := c.output("trace", "write a Chrome trace of the workloads (open it in Perfetto)", false)
	// "--plan -h" would read -h as the plan's name: help wins wherever it is.
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			c.help()
			return flag.ErrHelp
		}
	}
	if err := c.parse(args); err != nil {
		return err
	}
	if *devices < 1 {
		return c.errorf("--devices must be >= 1, got %d", *devices)
	}
	if *streams < 0 {
		return c.errorf("--streams must be >= 0, got %d", *streams)
	}
	if *repeat < 0 {
		return c.errorf("--repeat must be >= 0, got %d", *repeat)
	}
	var pol sched.Policy
	switch *policy {
	case "least-loaded":
		pol = sched.LeastLoaded
	case "round-robin":
		pol = sched.RoundRobin
	default:
		return c.errorf("--policy must be least-loaded or round-robin, got %q", *policy)
	}
	p, err := plan.ReadFile(*planPath)
	if err != nil {
		return fmt.Errorf("run plan: --plan: %w", err)
	}
	if *repeat > 0 {
		p.Repeat = *repeat
	}
	prepared, err := p.Prepare()
	if err != nil {
		return fmt.Errorf("run plan: generating the inputs: %w", err)
	}

	// The cores are shared by every CPU engine: each stream of each device
	// gets cores/(devices*streams) threads (ignored by GPU engines).
	cores := runtime.GOMAXPROCS(0)
	perDevice := max(1, cores / *devices)
	nStreams, threads := *streams, 0
	if nStreams == 0 {
		nStreams, threads = sched.CPUSplit(perDevice)
	} else {
		threads = max(1, perDevice/nStreams)
	}
	var devs []sched.Device
	defer func() {
		for _, d := range devs {
			d.Engine.Close()
		}
	}()
	var pools []backend.Pool
	var poolNames []string
	for i := range *devices {
		e, pool, err := openPlanEngine(c.backend, i, threads)
		if err != nil {
			return fmt.Errorf("run plan: --backend %s: device %d: %w", c.backend, i, err)
		}
		if e.Backend() != "cpu" && *streams == 0 {
			nStreams = 2
		}
		d := sched.Device{Engine: e, Streams: nStreams}
		if pool != nil {
			d.Memory = pool
			pools, poolNames = append(pools, pool), append(poolNames, e.Backend())
		}
		devs = append(devs, d)
	}
	s, err := sched.New(sched.Options{Devices: devs, Policy: pol})
	if err != nil {
		return fmt.Errorf("run plan: %w", err)
	}
	res, runErr := prepared.Run(ctx, s)
	stats := make([]mempool.Stats, len(pools))
	for i, p := range pools {
		stats[i] = p.Stats()
	}
	if err := s.Close(context.Background()); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if runErr != nil {
		return fmt.Errorf("run plan: %w", runErr)
	}
	if *tracePath != "" {
		if err := sched.WriteTrace(*tracePath, res.Records); err != nil {
			return fmt.Errorf("run plan: --trace: %w", err)
		}
	}
	if err := res.WriteSummary(stdout); err != nil {
		return err
	}
	writePoolStats(stdout, poolNames, stats)
	return nil
}
