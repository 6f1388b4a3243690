package cpu_test

import (
	"testing"

	"github.com/matmix/matmix/engine/backend"
	"github.com/matmix/matmix/engine/conformance"
	"github.com/matmix/matmix/engine/cpu"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(*testing.T) backend.Backend { return cpu.New(0) })
}

// Two goroutines even on one core, so the parallel split is exercised.
func TestConformanceTwoThreads(t *testing.T) {
	conformance.Run(t, func(*testing.T) backend.Backend { return cpu.New(2) })
}
