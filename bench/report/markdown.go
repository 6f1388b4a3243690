package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/matmix/matmix/bench"
)

// WriteMarkdown writes the results as a Markdown table, then a line on the
// meter (and why energy is missing, where it is).
func WriteMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "| benchmark | backend | samples | median | p10 | p90 | noise | GFLOP/s | GB/s | roofline | J/run | W | GFLOP/J | check |")
	fmt.Fprintln(bw, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, res := range r.Results {
		if res.Error != "" && res.Samples == 0 {
			fmt.Fprintf(bw, "| %s | %s | 0 | | | | | | | | | | | error: %s |\n", res.Name, res.Backend, cell(res.Error))
			continue
		}
		noise := fmt.Sprintf("%.2f%%", 100*res.Noise)
		if !res.Converged {
			noise += "*"
		}
		fmt.Fprintf(bw, "| %s | %s | %d | %s | %s | %s | %s | %.4g | %.4g | %s | %s | %s | %s | %s |\n",
			res.Name, res.Backend, res.Samples, dur(res.MedianS), dur(res.P10S), dur(res.P90S), noise,
			res.GFLOPS, res.GBPS, pct(res.RooflinePct), num(res.EnergyJ), num(res.AvgPowerW), num(res.GFLOPPerJ), checkCell(res.Check))
	}
	fmt.Fprintln(bw)
	if c := r.Device.Ceilings; c != nil {
		fmt.Fprintln(bw, "Roofline ceilings: "+c.String()+".")
	} else {
		fmt.Fprintln(bw, "Roofline ceilings: unknown (no GPU measured or in the datasheet table; see --peak-gflops, --peak-gbs).")
	}
	if len(r.Autotune) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "| autotuned shape | winner | device time | candidates |")
		fmt.Fprintln(bw, "|---|---|--:|---|")
		for _, a := range r.Autotune {
			fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", a.Key, a.Plan, dur(a.Seconds), candidatesCell(a.Timed))
		}
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, meterLine(r))
	if anyUnconverged(r.Results) {
		fmt.Fprintln(bw, "\\* noise above the threshold when sampling timed out (see --max-time).")
	}
	return bw.Flush()
}

func meterLine(r *Report) string {
	m := r.Meter
	if !m.Available {
		return fmt.Sprintf("Energy: not measured (%s).", m.Reason)
	}
	s := fmt.Sprintf("Energy: %s counter", m.Name)
	if m.UpdatePeriodS != nil {
		s += fmt.Sprintf(", updates every %s", dur(*m.UpdatePeriodS))
	}
	if m.IdlePowerW != nil {
		s += fmt.Sprintf(", idle power %.4g W", *m.IdlePowerW)
	}
	if m.Note != "" {
		s += "; " + m.Note
	}
	return s + "."
}

func anyUnconverged(rs []bench.Result) bool {
	for _, r := range rs {
		if r.Samples > 0 && !r.Converged {
			return true
		}
	}
	return false
}

func dur(s float64) string {
	d := time.Duration(s * 1e9)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%.0fns", s*1e9)
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", s*1e6)
	case d < time.Second:
		return fmt.Sprintf("%.3gms", s*1e3)
	}
	return fmt.Sprintf("%.3gs", s)
}

func num(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.4g", *v)
}

func pct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", *v)
}

func checkCell(c bench.Check) string {
	s := c.Status
	if c.Subset != "" {
		s += " (" + c.Subset + ")"
	}
	return cell(s)
}

// cell keeps text inside one table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// candidatesCell lists the timed candidates, fastest first.
func candidatesCell(timed map[string]float64) string {
	names := make([]string, 0, len(timed))
	for n := range timed {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return timed[names[i]] < timed[names[j]] || timed[names[i]] == timed[names[j]] && names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + dur(timed[n])
	}
	return strings.Join(parts, ", ")
}
