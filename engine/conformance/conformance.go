// Package conformance is the test suite every matmix backend must pass
// unchanged, in the manner of gonum's blas/testblas: a backend's own test
// calls Run with a constructor, and the suite checks each workload against
// the float64 references of package ref on fresh random inputs, with outputs
// poisoned (NaN) before the backend runs, at the tolerances of the spec.
package conformance

import (
	"testing"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/backend"
)

// Run runs the whole suite against the backend that open returns. Sizes are
// kept small enough for the CPU simulator; Short mode trims them further.
func Run(t *testing.T, open func(t *testing.T) backend.Backend) {
	newEngine := func(t *testing.T) *engine.Engine {
		b := open(t)
		t.Cleanup(func() { _ = b.Close() })
		return engine.New(b)
	}
	t.Run("Monarch", func(t *testing.T) { testMonarch(t, newEngine(t)) })
	t.Run("GLA", func(t *testing.T) { testGLA(t, newEngine(t)) })
	t.Run("W4A4", func(t *testing.T) { testW4A4(t, newEngine(t)) })
	t.Run("SpGEMM", func(t *testing.T) { testSpGEMM(t, newEngine(t)) })
}
