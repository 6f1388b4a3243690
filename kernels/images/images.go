// Package images embeds the kernel images built by `make -f cuda/cuda.mk
// kernels` from kernels/*.cu: a cubin per source file and architecture
// (NAME.sm_XY.cubin) and PTX for later GPUs (NAME.compute_XY.ptx). They are
// generated files, committed so that `go build` needs no CUDA toolkit; the
// tests of kernels/gen check them against SOURCES.sha256.
package images

import (
	"embed"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/matmix/matmix/engine/errs"
)

//go:embed *.cubin *.ptx
var files embed.FS

// Image is one loadable image.
type Image struct {
	Name   string // file name, e.g. monarch.sm_80.cubin
	Source string // kernel file it came from, e.g. monarch
	Arch   string // sm_80 (SASS) or compute_80 (PTX, JIT-compiled by the driver)
	Data   []byte
}

// Select returns one image per kernel source for a device of compute
// capability major.minor, preferring SASS: the cubin of the same major
// version with the highest minor not above the device's (a cubin runs on
// later minor versions of its major version: CUDA C++ Programming Guide,
// "Binary Compatibility"); else the PTX of the highest architecture not
// above the device's (PTX is forward compatible through the JIT).
func Select(major, minor int) ([]Image, error) {
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	chosen, err := choose(names, major, minor)
	if err != nil {
		return nil, err
	}
	out := make([]Image, len(chosen))
	for i, n := range chosen {
		data, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		src, arch, _ := split(n)
		out[i] = Image{Name: n, Source: src, Arch: arch, Data: data}
	}
	return out, nil
}

// split parses NAME.sm_XY.cubin or NAME.compute_XY.ptx into its source,
// architecture and version (10*major + minor).
func split(name string) (src, arch string, ver int) {
	parts := strings.Split(name, ".")
	if len(parts) != 3 {
		return "", "", -1
	}
	arch = parts[1]
	num, ok := strings.CutPrefix(arch, "sm_")
	if parts[2] == "ptx" {
		num, ok = strings.CutPrefix(arch, "compute_")
	} else if parts[2] != "cubin" {
		ok = false
	}
	v, err := strconv.Atoi(num)
	if !ok || err != nil {
		return "", "", -1
	}
	return parts[0], arch, v
}

// choose picks the image names for a device (see Select).
func choose(names []string, major, minor int) ([]string, error) {
	dev := 10*major + minor
	type pick struct {
		name  string
		score int // cubins beat PTX; then the higher version
	}
	best := map[string]pick{}
	for _, n := range names {
		src, arch, v := split(n)
		if v < 0 || v > dev {
			continue
		}
		score := v
		if strings.HasPrefix(arch, "sm_") {
			if v/10 != major {
				continue // SASS does not cross major versions
			}
			score += 1000
		}
		if p, ok := best[src]; !ok || score > p.score {
			best[src] = pick{n, score}
		}
	}
	var sources []string
	for _, n := range names {
		if src, _, v := split(n); v >= 0 && !slices.Contains(sources, src) {
			sources = append(sources, src)
		}
	}
	slices.Sort(sources)
	var out []string
	for _, s := range sources {
		p, ok := best[s]
		if !ok {
			return nil, errs.Unsupported("cuda", "no kernel image of %s runs on compute capability %d.%d", s, major, minor)
		}
		out = append(out, p.name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("images: no kernel images embedded")
	}
	return out, nil
}
