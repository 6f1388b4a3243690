package conformance

import (
	"testing"

	"github.com/matmix/matmix/engine"
)

func testGLA(t *testing.T, e *engine.Engine) {
	t.Fatal("gla conformance tests not written yet")
}
