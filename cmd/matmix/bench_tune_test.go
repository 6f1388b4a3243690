package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestBenchAutotuneNeedsCUDA: --autotune on the CPU is a user error.
func TestBenchAutotuneNeedsCUDA(t *testing.T) {
	line := requireUserError(t, t.TempDir(), nil, benchArgs("monarch", "--quick", "--backend", "cpu", "--autotune")...)
	assert.Contains(t, line, "--autotune needs the cuda backend")
}
