package meter

// GPUInfo describes one GPU as NVML reports it.
type GPUInfo struct {
	Index             int      `json:"index"`
	Name              string   `json:"name"`
	UUID              string   `json:"uuid,omitempty"`
	ComputeCapability string   `json:"compute_capability"`
	MemoryBytes       uint64   `json:"memory_bytes"`
	PowerLimitW       *float64 `json:"power_limit_w"`
	EnergyCounter     bool     `json:"energy_counter"`
	// Status is "ok" or why the GPU cannot be metered.
	Status string `json:"status"`
}

// GPUList is what NVML says about the machine.
type GPUList struct {
	Driver string
	GPUs   []GPUInfo
	// Err is why NVML could not be used at all (no driver, no cgo).
	Err error
}
