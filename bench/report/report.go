// Package report writes benchmark results: JSON, one flat CSV row per
// configuration, Go benchmark format for benchstat, a Markdown table, the
// power timeline as CSV and plots. Files are written atomically.
package report

import (
	"encoding/json"
	"io"

	"github.com/matmix/matmix/bench"
	"github.com/matmix/matmix/bench/meter"
	"github.com/matmix/matmix/engine/atomicfile"
)

// Report is one `matmix bench` invocation's results.
type Report struct {
	Device  bench.DeviceInfo `json:"device"`
	Meter   bench.MeterInfo  `json:"meter"`
	Seed    uint64           `json:"seed"`
	Results []bench.Result   `json:"results"`
	// Autotune are the shapes `--autotune` timed, with their winners.
	Autotune []Tuned `json:"autotune,omitempty"`
}

// Tuned is one autotuned shape: the cache key, the winner and every
// candidate's median device time per run, seconds.
type Tuned struct {
	Key     string             `json:"key"`
	Plan    string             `json:"plan"`
	Seconds float64            `json:"seconds"`
	Timed   map[string]float64 `json:"timed"`
}

// WriteJSON writes the report as indented JSON (cli.md's schema, extended).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // keep "noise 3% > 2%" readable
	if r.Results == nil {
		r.Results = []bench.Result{}
	}
	return enc.Encode(r)
}

// WriteFile writes path atomically (temporary file and rename), so an
// interrupted run never leaves half a file behind.
func WriteFile(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, write)
}

// WriteTimeline writes power samples as CSV: t_s (seconds since sampling
// started, monotonic), power_w, source and config.
func WriteTimeline(w io.Writer, samples []meter.Sample) error {
	cw := newCSV(w)
	cw.row("t_s", "power_w", "source", "config")
	for _, s := range samples {
		cw.row(fmtF(s.T.Seconds()), fmtF(s.Watts), s.Source, s.Label)
	}
	return cw.flush()
}
