package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ManifestPath is where the hash of the image sources is recorded.
const ManifestPath = "kernels/images/SOURCES.sha256"

// PtxasPath is where make kernels records ptxas -v for every kernel.
const PtxasPath = "kernels/ptxas.txt"

// manifestInputs lists, relative to root and sorted, the files the kernel
// images are built from: the kernel sources, the kernel headers and the
// build settings (kernels/images/nvcc.mk holds the flags and architectures).
// The simulator's own sources are not inputs: nvcc never reads them.
func manifestInputs(root string) ([]string, error) {
	var in []string
	cus, err := filepath.Glob(filepath.Join(root, "kernels", "*.cu"))
	if err != nil {
		return nil, err
	}
	for _, f := range cus {
		in = append(in, "kernels/"+filepath.Base(f))
	}
	inc := filepath.Join(root, "kernels", "include")
	err = filepath.WalkDir(inc, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		in = append(in, filepath.ToSlash(rel))
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	in = append(in, "kernels/images/nvcc.mk")
	slices.Sort(in)
	return in, nil
}

// imageFiles lists the outputs of make kernels: the images, relative to
// root and sorted, and the ptxas report.
func imageFiles(root string) ([]string, error) {
	out := []string{PtxasPath}
	for _, pat := range []string{"*.cubin", "*.ptx"} {
		m, err := filepath.Glob(filepath.Join(root, "kernels", "images", pat))
		if err != nil {
			return nil, err
		}
		for _, f := range m {
			out = append(out, "kernels/images/"+filepath.Base(f))
		}
	}
	slices.Sort(out)
	return out, nil
}

// Manifest renders SOURCES.sha256: `sha256  path` lines (the format of
// sha256sum) for the inputs and then the images, after comment lines that
// record the nvcc that built them. CheckManifest compares the hash lines.
func Manifest(root, nvcc string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Inputs and outputs of `make -f cuda/cuda.mk kernels`; checked by go test ./kernels/gen.\n")
	if nvcc != "" {
		fmt.Fprintf(&b, "# nvcc: %s\n", strings.TrimSpace(nvcc))
	}
	lines, err := hashLines(root)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.Bytes(), nil
}

func hashLines(root string) ([]string, error) {
	in, err := manifestInputs(root)
	if err != nil {
		return nil, err
	}
	imgs, err := imageFiles(root)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, p := range append(in, imgs...) {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return nil, err
		}
		lines = append(lines, fmt.Sprintf("%x  %s", sha256.Sum256(data), p))
	}
	return lines, nil
}

// CheckManifest reports how the committed manifest differs from the files
// now under root (nil when they agree).
func CheckManifest(root string) error {
	committed, err := os.ReadFile(filepath.Join(root, ManifestPath))
	if err != nil {
		return fmt.Errorf("no recorded kernel image hashes: %w", err)
	}
	var want []string
	for _, l := range strings.Split(string(committed), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	got, err := hashLines(root)
	if err != nil {
		return err
	}
	var diff []string
	for _, l := range got {
		if !slices.Contains(want, l) {
			diff = append(diff, "now:      "+l)
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			diff = append(diff, "recorded: "+l)
		}
	}
	if len(diff) > 0 {
		return fmt.Errorf("kernel images do not match their sources (run `make -f cuda/cuda.mk kernels` where nvcc is installed, and commit kernels/images):\n%s", strings.Join(diff, "\n"))
	}
	return nil
}
