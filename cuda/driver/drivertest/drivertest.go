// Package drivertest loads a stand-in for libcuda.so.1 (testdata/fakecuda.c,
// compiled with the C compiler at test time), so that the driver layer and
// the device layer above it run their real code paths on machines without a
// GPU. See fakecuda.c for what the stand-in implements: one sm_90 device,
// host memory as device memory, and one kernel, "saxpy", in the image
// "FAKEIMAGE".
package drivertest

import (
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/matmix/matmix/cuda/driver"
)

//go:embed testdata/fakecuda.c
var source []byte

// Image is the only module image the stand-in loads.
const Image = "FAKEIMAGE"

// Open builds the stand-in and opens it. Without a C compiler (CC, else cc)
// the test is skipped: the compiler is what builds the stand-in.
func Open(t testing.TB) *driver.Driver {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s) to build the stand-in driver: %v", cc, err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fakecuda.c")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "libfakecuda.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in driver: %v\n%s", err, out)
	}
	d, err := driver.OpenLibrary(lib)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
