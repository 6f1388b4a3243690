package conformance

import (
	"testing"

	"github.com/matmix/matmix/engine"
)

func testW4A4(t *testing.T, e *engine.Engine) {
	t.Fatal("w4a4 conformance tests not written yet")
}
