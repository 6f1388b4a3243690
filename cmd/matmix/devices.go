package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/matmix/matmix/bench"
	"github.com/matmix/matmix/bench/meter"
	"github.com/matmix/matmix/bench/report"
	"github.com/matmix/matmix/engine"
)

// devicesReport is what `matmix devices` finds.
type devicesReport struct {
	CPU     bench.CPUInfo   `json:"cpu"`
	Driver  string          `json:"driver,omitempty"`
	GPUs    []meter.GPUInfo `json:"gpus"`
	NVML    string          `json:"nvml"` // "ok" or why NVML is unusable
	Backend string          `json:"auto_backend"`
	Reason  string          `json:"auto_backend_reason"`
	Meters  []meterStatus   `json:"meters"`
}

type meterStatus struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
}

// devicesCmd lists the GPUs, the CPU and the energy meters.
func devicesCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	jsonPath := fs.String("json", "", "also write the list as JSON to `FILE`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: matmix devices [--json FILE]\n\nLists the GPUs (through NVML), the CPU and the energy meters available.")
			return err
		}
		return fmt.Errorf("devices: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("devices: unexpected argument %q", fs.Arg(0))
	}
	if *jsonPath != "" {
		if err := checkOutputPath(*jsonPath); err != nil {
			return fmt.Errorf("devices: --json: %w", err)
		}
	}
	d := findDevices()
	writeDevices(stdout, d)
	if *jsonPath != "" {
		err := report.WriteFile(*jsonPath, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		})
		if err != nil {
			return fmt.Errorf("devices: --json %s: %w", *jsonPath, err)
		}
	}
	return nil
}

func findDevices() devicesReport {
	d := devicesReport{CPU: bench.DescribeCPU(), NVML: "ok"}
	gl := meter.ListGPUs()
	d.Driver, d.GPUs = gl.Driver, gl.GPUs
	if d.GPUs == nil {
		d.GPUs = []meter.GPUInfo{}
	}
	if gl.Err != nil {
		d.NVML = gl.Err.Error()
	}
	if e, err := engine.Open(); err == nil {
		d.Backend, d.Reason = e.Backend(), e.Reason()
		e.Close()
	} else {
		d.Backend, d.Reason = "none", err.Error()
	}
	status := func(m meter.Meter) {
		s := meterStatus{Name: m.Name(), Available: m.Err() == nil}
		if m.Err() != nil {
			s.Reason = m.Err().Error()
		}
		d.Meters = append(d.Meters, s)
		m.Close()
	}
	status(meter.OpenRAPL(meter.PowercapRoot, time.Now))
	if len(d.GPUs) == 0 {
		status(meter.OpenNVML(0))
	}
	for _, g := range d.GPUs {
		status(meter.OpenNVML(g.Index))
	}
	return d
}

func writeDevices(w io.Writer, d devicesReport) {
	fmt.Fprintf(w, "CPU: %s (%s), %d logical cores, SIMD: %s\n", d.CPU.Model, d.CPU.Arch, d.CPU.Cores, orNone(strings.Join(d.CPU.SIMD, " ")))
	if len(d.GPUs) == 0 {
		fmt.Fprintf(w, "GPUs: none (%s)\n", d.NVML)
	} else {
		fmt.Fprintf(w, "GPUs: %d (driver %s)\n", len(d.GPUs), d.Driver)
		for _, g := range d.GPUs {
			limit := "unknown"
			if g.PowerLimitW != nil {
				limit = fmt.Sprintf("%.0f W", *g.PowerLimitW)
			}
			fmt.Fprintf(w, "  %d: %s, compute capability %s, %.1f GiB, power limit %s, nvml: %s\n",
				g.Index, g.Name, orNone(g.ComputeCapability), float64(g.MemoryBytes)/(1<<30), limit, g.Status)
		}
	}
	fmt.Fprintf(w, "Backend (auto): %s (%s)\n", d.Backend, d.Reason)
	fmt.Fprintln(w, "Energy meters:")
	for _, m := range d.Meters {
		if m.Available {
			fmt.Fprintf(w, "  %s: available\n", m.Name)
		} else {
			fmt.Fprintf(w, "  %s: unavailable: %s\n", m.Name, m.Reason)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
