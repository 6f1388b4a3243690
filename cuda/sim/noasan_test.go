//go:build cudasim && !asan

package sim

import "testing"

func TestASanBuild(t *testing.T) {
	if ASan() {
		t.Fatal("built without -asan but the simulator reports AddressSanitizer")
	}
}
