package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/matmix/matmix/bench/meter"
)

type csvWriter struct {
	w   *csv.Writer
	err error
}

func newCSV(w io.Writer) *csvWriter { return &csvWriter{w: csv.NewWriter(w)} }

func (c *csvWriter) row(fields ...string) {
	if c.err == nil {
		c.err = c.w.Write(fields)
	}
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	if c.err != nil {
		return c.err
	}
	return c.w.Error()
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }

// fmtP is a nullable figure: empty for null.
func fmtP(v *float64) string {
	if v == nil {
		return ""
	}
	return fmtF(*v)
}

// csvFixed are the columns every row has, in order.
var csvFixed = []string{
	"name", "op", "backend", "cache", "samples", "median_s", "p10_s", "p90_s", "mean_s", "noise", "converged",
	"flops", "bytes", "intensity", "gflops", "gbps", "roofline_pct",
	"energy_j", "energy_above_idle_j", "avg_power_w", "gflop_per_j", "edp_js", "energy_runs", "energy_window_s",
	"idle_power_w", "check", "check_error",
	"clock_mhz_before", "clock_mhz_after", "mem_clock_mhz_before", "mem_clock_mhz_after",
	"temp_c_before", "temp_c_after", "power_limit_w", "throttle_after",
	"device", "cpu", "threads", "meter", "error",
}

// WriteCSV writes one flat row per configuration, ready to fit a model on:
// the fixed columns, then one column per parameter (param_<key>) and per
// extra figure (extra_<key>) across all rows. Null figures are empty cells.
func WriteCSV(w io.Writer, r *Report) error {
	var pkeys, xkeys []string
	for _, res := range r.Results {
		for _, p := range res.ParamList {
			if !slices.Contains(pkeys, p.Key) {
				pkeys = append(pkeys, p.Key)
			}
		}
		for k := range res.Extra {
			if !slices.Contains(xkeys, k) {
				xkeys = append(xkeys, k)
			}
		}
	}
	slices.Sort(xkeys)
	header := slices.Clone(csvFixed)
	for _, k := range pkeys {
		header = append(header, "param_"+k)
	}
	for _, k := range xkeys {
		header = append(header, "extra_"+k)
	}
	cw := newCSV(w)
	cw.row(header...)
	device := r.Device.Backend
	if r.Device.GPU != nil {
		device = r.Device.GPU.Name
	}
	for _, res := range r.Results {
		row := []string{
			res.Name, res.Op, res.Backend, res.Cache, strconv.Itoa(res.Samples),
			fmtF(res.MedianS), fmtF(res.P10S), fmtF(res.P90S), fmtF(res.MeanS), fmtF(res.Noise), strconv.FormatBool(res.Converged),
			fmtF(res.Flops), fmtF(res.Bytes), fmtF(res.Intensity), fmtF(res.GFLOPS), fmtF(res.GBPS), fmtP(res.RooflinePct),
			fmtP(res.EnergyJ), fmtP(res.EnergyAboveIdleJ), fmtP(res.AvgPowerW), fmtP(res.GFLOPPerJ), fmtP(res.EDP),
			strconv.Itoa(res.EnergyRuns), fmtF(res.EnergyWindowS),
			fmtP(r.Meter.IdlePowerW), res.Check.Status, fmtF(res.Check.Error),
			fmtP(res.Before.ClockMHz), fmtP(res.After.ClockMHz), fmtP(res.Before.MemClockMHz), fmtP(res.After.MemClockMHz),
			fmtP(res.Before.TempC), fmtP(res.After.TempC), fmtP(res.After.PowerLimitW), joinThrottle(res.After),
			device, r.Device.CPU.Model, strconv.Itoa(r.Device.Threads), r.Meter.Name, res.Error,
		}
		params := map[string]any{}
		for _, p := range res.ParamList {
			params[p.Key] = p.Value
		}
		for _, k := range pkeys {
			if v, ok := params[k]; ok {
				row = append(row, fmt.Sprint(v))
			} else {
				row = append(row, "")
			}
		}
		for _, k := range xkeys {
			if v, ok := res.Extra[k]; ok {
				row = append(row, fmtF(v))
			} else {
				row = append(row, "")
			}
		}
		cw.row(row...)
	}
	return cw.flush()
}

func joinThrottle(s meter.State) string {
	out := ""
	for i, t := range s.Throttle {
		if i > 0 {
			out += "|"
		}
		out += t
	}
	return out
}
