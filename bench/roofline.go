package bench

import (
	"strings"
)

// Ceilings are a device's peak compute and memory bandwidth, the roofline
// that "percent of roofline" is measured against. Zero means unknown.
type Ceilings struct {
	FP32GFLOPS float64 `json:"fp32_gflops"`
	INT8GOPS   float64 `json:"int8_gops"` // dense int8 tensor-core peak
	GBPS       float64 `json:"gbps"`
	Source     string  `json:"source"`
}

// Peak is the compute ceiling for a compute class ("fp32" or "int8").
func (c Ceilings) Peak(class string) float64 {
	if class == "int8" {
		return c.INT8GOPS
	}
	return c.FP32GFLOPS
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
			c.Source = "datasheet: " + k.match
			return c, true
		}
	}
	return Ceilings{}, false
}
