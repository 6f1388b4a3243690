package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDevices(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "d.json")
	out := requireOK(t, "devices", "--json", j)
	assert.Contains(t, out, "CPU: ")
	assert.Contains(t, out, "GPUs: ")
	assert.Contains(t, out, "Backend (auto): ")
	assert.Contains(t, out, "Energy meters:")
	assert.Contains(t, out, "  rapl: ")
	assert.Contains(t, out, "  nvml:0: ")

	var d struct {
		CPU struct {
			Model string   `json:"model"`
			Cores int      `json:"cores"`
			SIMD  []string `json:"simd"`
		} `json:"cpu"`
		GPUs   []map[string]any `json:"gpus"`
		NVML   string           `json:"nvml"`
		Meters []struct {
			Name      string `json:"name"`
			Available bool   `json:"available"`
			Reason    string `json:"reason"`
		} `json:"meters"`
	}
	b, err := os.ReadFile(j)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &d))
	assert.NotEmpty(t, d.CPU.Model)
	assert.Positive(t, d.CPU.Cores)
	assert.NotNil(t, d.GPUs)
	require.GreaterOrEqual(t, len(d.Meters), 2)
	for _, m := range d.Meters {
		if !m.Available {
			assert.NotEmpty(t, m.Reason, m.Name)
		}
	}

	requireUserError(t, dir, nil, "devices", "--bogus")
	requireUserError(t, dir, nil, "devices", "extra")
	requireUserError(t, dir, nil, "devices", "--json", filepath.Join(dir, "no", "d.json"))
	help := requireOK(t, "devices", "-h")
	assert.Contains(t, help, "usage: matmix devices")
}
