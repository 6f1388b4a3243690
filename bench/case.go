package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Param is one named parameter of a configuration, kept in the order it is
// printed (Go benchmark names are order-sensitive).
type Param struct {
	Key   string
	Value any // int, int64, float64 or string
}

// Case is one configuration of one workload.
type Case struct {
	Op      string // "monarch", "gla", "w4a4", "spgemm", "sgemm"
	Params  []Param
	Backend string // the backend the runs use
	// Host marks a workload that runs on the CPU whatever the backend: a
	// GPU meter does not measure it and GPU ceilings do not bound it.
	Host bool
	// FLOPs and Bytes are the work and compulsory memory traffic (inputs read
	// and outputs written once) of one run; Prepare may refine them.
	FLOPs float64
	Bytes float64
	// Compute is the ceiling class the roofline uses: "fp32" or "int8".
	Compute string
	// Prepare makes fresh random inputs (never zeros) and returns the
	// instance to run.
	Prepare func(ctx context.Context, r *rand.Rand) (*Instance, error)
}

// Instance is a prepared configuration.
type Instance struct {
	// Run computes the workload once, into preallocated outputs.
	Run func(ctx context.Context) error
	// Check compares the output of the last Run with the reference.
	Check func(ctx context.Context) Check
	// FLOPs and Bytes, when non-zero, replace the Case's (sizes known only
	// after a run, such as nnz(C) of a sparse product).
	FLOPs, Bytes float64
	// Extra are workload-specific figures (quantization error, nnz(C)).
	Extra map[string]float64
	// Close releases what Prepare allocated; may be nil.
	Close func()
	// Args are the operands as the backends take them (backend.MonarchArgs,
	// backend.GLAArgs), for the CLI's autotuner; nil for other workloads.
	Args any
	// Plan names the kernel plan Run runs when the caller chose it (the
	// autotuned winner); empty: the backend's own choice.
	Plan string
}

// Name is "op/key=value/...", the Go benchmark name without the prefix.
func (c *Case) Name() string {
	var b strings.Builder
	b.WriteString(c.Op)
	for _, p := range c.Params {
		fmt.Fprintf(&b, "/%s=%v", p.Key, p.Value)
	}
	return b.String()
}

// Check is the outcome of comparing a result with the reference.
type Check struct {
	Status string  `json:"status"` // "ok", "failed" or "skipped"
	Metric string  `json:"metric,omitempty"`
	Error  float64 `json:"error"`
	Tol    float64 `json:"tol"`
	// Subset says what part was compared when not everything was.
	Subset string `json:"subset,omitempty"`
	Note   string `json:"note,omitempty"`
}

// CheckTol is a Check of an error measure against a tolerance.
func CheckTol(metric string, err, tol float64, subset string) Check {
	st := "ok"
	if !(err <= tol) { // NaN fails
		st = "failed"
	}
	return Check{Status: st, Metric: metric, Error: err, Tol: tol, Subset: subset}
}

// Skipped is a Check not made, with the reason.
func Skipped(why string) Check { return Check{Status: "skipped", Note: why} }
