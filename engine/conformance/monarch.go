package conformance

import (
	"testing"

	"github.com/matmix/matmix/engine"
)

func testMonarch(t *testing.T, e *engine.Engine) {
	t.Fatal("monarch conformance tests not written yet")
}
