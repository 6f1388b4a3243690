package bench

import (
	"github.com/matmix/matmix/bench/meter"
)

// Result is everything measured about one configuration. Figures that could
// not be measured are nil (null in JSON), never 0.
type Result struct {
	Name    string         `json:"name"`
	Op      string         `json:"op"`
	Backend string         `json:"backend"`
	Params  map[string]any `json:"params"`
	Cache   string         `json:"cache"` // "hot" or "cold"
	// Plan is the kernel plan that ran when it was chosen for the backend
	// (the autotuned winner, e.g. "fused/bm=32"); empty otherwise.
	Plan string `json:"plan,omitempty"`

	Samples   int     `json:"samples"`
	MedianS   float64 `json:"median_s"`
	P10S      float64 `json:"p10_s"`
	P90S      float64 `json:"p90_s"`
	MeanS     float64 `json:"mean_s"`
	Noise     float64 `json:"noise"` // standard deviation / mean of the samples
	Converged bool    `json:"converged"`
	Stop      string  `json:"stop"` // why sampling stopped

	Flops       float64  `json:"flops"`
	Bytes       float64  `json:"bytes"`
	GFLOPS      float64  `json:"gflops"`
	GBPS        float64  `json:"gbps"`
	Intensity   float64  `json:"intensity"` // FLOP per byte
	RooflinePct *float64 `json:"roofline_pct"`

	EnergyJ          *float64 `json:"energy_j"`            // per run, total
	EnergyAboveIdleJ *float64 `json:"energy_above_idle_j"` // per run, idle power subtracted
	AvgPowerW        *float64 `json:"avg_power_w"`
	GFLOPPerJ        *float64 `json:"gflop_per_j"`
	EDP              *float64 `json:"edp_js"` // energy-delay product: J per run * median s
	EnergyRuns       int      `json:"energy_runs,omitempty"`
	EnergyWindowS    float64  `json:"energy_window_s,omitempty"`
	EnergyNote       string   `json:"energy_note,omitempty"` // why energy is null

	Check  Check              `json:"check"`
	Extra  map[string]float64 `json:"extra,omitempty"`
	Before meter.State        `json:"state_before"`
	After  meter.State        `json:"state_after"`
	Error  string             `json:"error,omitempty"`

	// Times are the samples in seconds, in the order taken.
	Times []float64 `json:"-"`
	// Compute is the roofline class of the workload.
	Compute string `json:"-"`
	// ParamList keeps the parameters' order for names and flat rows.
	ParamList []Param `json:"-"`
}

func fptr(v float64) *float64 { return &v }
