package bench

import (
	"github.com/matmix/matmix/bench/meter"
)

// DeviceInfo describes where a benchmark ran: the JSON output's "device".
type DeviceInfo struct {
	Backend       string         `json:"backend"`
	BackendReason string         `json:"backend_reason"`
	Threads       int            `json:"threads"`
	GoVersion     string         `json:"go_version"`
	CPU           CPUInfo        `json:"cpu"`
	GPU           *meter.GPUInfo `json:"gpu"`
	Driver        string         `json:"driver,omitempty"`
	// Ceilings are the roofline peaks; nil when unknown.
	Ceilings *Ceilings `json:"ceilings"`
}
