package bench

import (
	"fmt"
	"strings"
)

// Ceilings are a device's peak compute and memory bandwidth, the roofline
// that "percent of roofline" is measured against. Zero means unknown.
// Measured ceilings come from the device itself (the CUDA backend's
// MeasureCeilings, kernels/ceilings.cu); the others are datasheet
// estimates or the command line's.
type Ceilings struct {
	FP32GFLOPS float64 `json:"fp32_gflops"`
	INT8GOPS   float64 `json:"int8_gops"` // dense int8 tensor-core peak
	// Tensor-core peaks with float32 accumulation; measured only.
	TF32GFLOPS float64 `json:"tf32_gflops,omitempty"`
	F16GFLOPS  float64 `json:"f16_gflops,omitempty"`
	BF16GFLOPS float64 `json:"bf16_gflops,omitempty"`
	GBPS       float64 `json:"gbps"`
	Measured   bool    `json:"measured"`
	Source     string  `json:"source"`
}

// Peak is the compute ceiling for a compute class: "fp32", "int8", or a
// tensor-core class "tf32", "f16", "bf16" (0 where not measured).
func (c Ceilings) Peak(class string) float64 {
	switch class {
	case "int8":
		return c.INT8GOPS
	case "tf32":
		return c.TF32GFLOPS
	case "f16":
		return c.F16GFLOPS
	case "bf16":
		return c.BF16GFLOPS
	}
	return c.FP32GFLOPS
}

// String is the ceilings in one line, saying where they come from.
func (c Ceilings) String() string {
	var parts []string
	add := func(name string, v float64, unit string) {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s %.4g %s", name, v, unit))
		}
	}
	add("memory", c.GBPS, "GB/s")
	add("fp32", c.FP32GFLOPS, "GFLOP/s")
	add("tf32", c.TF32GFLOPS, "GFLOP/s")
	add("f16", c.F16GFLOPS, "GFLOP/s")
	add("bf16", c.BF16GFLOPS, "GFLOP/s")
	add("int8", c.INT8GOPS, "GOP/s")
	kind := "estimates, not measured"
	if c.Measured {
		kind = "measured"
	}
	return fmt.Sprintf("%s (%s; %s)", strings.Join(parts, ", "), kind, c.Source)
}

// Attainable is the roofline at an arithmetic intensity (FLOP per byte):
// min(peak, intensity * bandwidth); 0 when a ceiling is unknown.
func (c Ceilings) Attainable(class string, intensity float64) float64 {
	p := c.Peak(class)
	if p <= 0 || c.GBPS <= 0 {
		return 0
	}
	return min(p, intensity*c.GBPS)
}

// knownGPUs are published peaks (NVIDIA datasheets; dense, without
// sparsity), matched by a substring of the NVML device name. The FP32 peak
// is the CUDA-core rate, the one the fp32 kernels can reach.
var knownGPUs = []struct {
	match string
	c     Ceilings
}{
	{"H200", Ceilings{FP32GFLOPS: 67e3, INT8GOPS: 1979e3, GBPS: 4800}},
	{"H100 PCIe", Ceilings{FP32GFLOPS: 51e3, INT8GOPS: 1513e3, GBPS: 2000}},
	{"H100 NVL", Ceilings{FP32GFLOPS: 60e3, INT8GOPS: 1671e3, GBPS: 3900}},
	{"H100", Ceilings{FP32GFLOPS: 67e3, INT8GOPS: 1979e3, GBPS: 3350}},
	{"A100-SXM4-80GB", Ceilings{FP32GFLOPS: 19.5e3, INT8GOPS: 624e3, GBPS: 2039}},
	{"A100 80GB PCIe", Ceilings{FP32GFLOPS: 19.5e3, INT8GOPS: 624e3, GBPS: 1935}},
	{"A100", Ceilings{FP32GFLOPS: 19.5e3, INT8GOPS: 624e3, GBPS: 1555}},
	{"L40S", Ceilings{FP32GFLOPS: 91.6e3, INT8GOPS: 733e3, GBPS: 864}},
	{"L4", Ceilings{FP32GFLOPS: 30.3e3, INT8GOPS: 242.5e3, GBPS: 300}},
	{"RTX 4090", Ceilings{FP32GFLOPS: 82.6e3, INT8GOPS: 660.6e3, GBPS: 1008}},
}

// CeilingsFor looks a GPU name up in the table of published peaks.
func CeilingsFor(gpuName string) (Ceilings, bool) {
	for _, k := range knownGPUs {
		if strings.Contains(gpuName, k.match) {
			c := k.c
			c.Source = "datasheet of " + k.match
			return c, true
		}
	}
	return Ceilings{}, false
}
