// Command gen generates the code that connects the CUDA kernels of kernels/
// to Go, and records the hash of the sources the kernel images are built
// from. Run from the repository (go generate ./cuda/kernels does):
//
//	go run ./kernels/gen                    # wrappers and simulator registration
//	go run ./kernels/gen -manifest -nvcc V  # kernels/images/SOURCES.sha256 (make kernels)
//
// The first form reads every kernels/*.cu, takes each line that starts with
// `extern "C" __global__ void` as a kernel signature, and writes
//
//   - cuda/kernels/launch_gen.go: a typed Go wrapper per kernel that packs
//     its arguments and calls device.Device.Launch;
//   - cuda/sim/kernels_gen.cc: for the simulator (build tag cudasim), one
//     invoker per kernel that unpacks cuLaunchKernel-style void** arguments
//     and calls the kernel, and a static initializer registering them with
//     mmsim_register (kernels/sim/mmsim.h);
//   - cuda/sim/<file>_cu_gen.cc and cuda/sim/<file>_sim_gen.cc: one cgo
//     translation unit per kernels/*.cu and per kernels/sim/*.cc, each
//     including its source, so that cgo compiles them with g++.
//
// Output is deterministic (sorted, gofmt'd); a test checks that the committed
// files are what the generator writes.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	root := flag.String("root", "", "repository root (default: the directory holding go.mod, searched upward)")
	manifest := flag.Bool("manifest", false, "write kernels/images/SOURCES.sha256 instead of the generated code")
	nvcc := flag.String("nvcc", "", "with -manifest: the nvcc version line to record (informational)")
	flag.Parse()
	if err := run(*root, *manifest, *nvcc); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(root string, manifest bool, nvcc string) error {
	if root == "" {
		r, err := findRoot()
		if err != nil {
			return err
		}
		root = r
	}
	if manifest {
		m, err := Manifest(root, nvcc)
		if err != nil {
			return err
		}
		return writeIfChanged(filepath.Join(root, ManifestPath), m)
	}
	files, err := Generate(root)
	if err != nil {
		return err
	}
	return WriteFiles(root, files)
}

// findRoot walks up from the working directory to the directory with go.mod.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; pass -root")
		}
		dir = parent
	}
}

// WriteFiles writes the generated files (paths relative to root) and
// removes generated files in the output directories that are no longer
// produced (a deleted kernel file leaves no stale translation unit).
func WriteFiles(root string, files map[string][]byte) error {
	stale, err := generatedFiles(root)
	if err != nil {
		return err
	}
	for _, p := range stale {
		if _, ok := files[p]; !ok {
			if err := os.Remove(filepath.Join(root, p)); err != nil {
				return err
			}
		}
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			return err
		}
		if err := writeIfChanged(filepath.Join(root, p), b); err != nil {
			return err
		}
	}
	return nil
}

// generatedFiles lists the files this generator owns that exist now.
func generatedFiles(root string) ([]string, error) {
	var out []string
	for _, pat := range []string{"cuda/kernels/*_gen.go", "cuda/sim/*_gen.cc"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			return nil, err
		}
		for _, p := range m {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return nil, err
			}
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out, nil
}

func writeIfChanged(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return os.WriteFile(path, b, 0o644)
}
