//go:build cudasim && asan

package sim

import "testing"

// TestASanBuild: go test -asan reaches the simulator's C++ (cgo passes
// -fsanitize=address to g++).
func TestASanBuild(t *testing.T) {
	if !ASan() {
		t.Fatal("built with -asan but the simulator reports no AddressSanitizer")
	}
}
