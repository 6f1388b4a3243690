package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/matmix/matmix/bench"
	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
)

// cases expands the workload's flags into configurations: the cartesian
// product of every sweep, in the order the flags list their values. "all"
// is every workload at its default size.
func (f *benchFlags) cases(e *engine.Engine, o bench.Options) ([]bench.Case, error) {
	if f.workload != "all" {
		return f.workloadCases(f.workload, e, o)
	}
	var out []bench.Case
	for _, wl := range benchWorkloads {
		cs, err := f.workloadCases(wl, e, o)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func (f *benchFlags) workloadCases(wl string, e *engine.Engine, o bench.Options) ([]bench.Case, error) {
	var out []bench.Case
	add := func(c bench.Case, err error) error {
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	}
	switch wl {
	case "monarch":
		dts, err := f.dtypes()
		if err != nil {
			return nil, err
		}
		for _, dt := range dts {
			// tf32 is an arithmetic of float32 operands only.
			tf32 := f.math == "tf32" && dt == tensor.Float32
			err := product(func(v []int) error {
				return add(bench.MonarchCase(e, bench.MonarchSize{Batch: v[0], N: v[1], Blocks: v[2], DType: dt, TF32: tf32}, o.RefFLOPs))
			}, orInts(f.batch, f.quickOr(256, 4096)), orInts(f.n, f.quickOr(1024, 4096)), orInts(f.blocks, f.quickOr(32, 64)))
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	case "gla":
		dts, err := f.dtypes()
		if err != nil {
			return nil, err
		}
		forms := []string(f.form)
		if len(forms) == 0 {
			forms = []string{"chunked"}
		}
		for _, dt := range dts {
			for _, form := range forms {
				err := product(func(v []int) error {
					return add(bench.GLACase(e, bench.GLASize{B: v[0], T: v[1], H: v[2], K: v[3], V: v[4], Form: form, DType: dt}, o.RefFLOPs))
				}, orInts(f.b, 1), orInts(f.t, f.quickOr(512, 4096)), orInts(f.h, f.quickOr(2, 8)), orInts(f.k, 64), orInts(f.v, 64))
				if err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	case "w4a4":
		fracs := []float64(f.int8Frac)
		if len(fracs) == 0 {
			fracs = []float64{0}
		}
		d := f.quickOr(256, 2048)
		for _, frac := range fracs {
			err := product(func(v []int) error {
				return add(bench.W4A4Case(e, bench.W4A4Size{M: v[0], N: v[1], K: v[2], Group: v[3], Int8Frac: frac}, o.RefFLOPs))
			}, orInts(f.m, d), orInts(f.n, d), orInts(f.k, d), orInts(f.group, 128))
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	case "spgemm":
		return f.spgemmCases(e, o)
	case "sgemm":
		threads := f.threads
		if threads <= 0 {
			threads = runtime.GOMAXPROCS(0)
		}
		for _, n := range orInts(f.n, f.quickOr(256, 2048)) {
			if err := add(bench.SGEMMCase(n, threads, o.RefFLOPs)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("bench: unknown workload %q", wl)
}

// spgemmCases reads each --mtx file, or generates each --gen matrix.
func (f *benchFlags) spgemmCases(e *engine.Engine, o bench.Options) ([]bench.Case, error) {
	dts, err := f.dtypes()
	if err != nil {
		return nil, err
	}
	for _, dt := range dts {
		if dt != tensor.Float32 && dt != tensor.Float64 {
			return nil, benchErr("--dtype must be float32 or float64, got %v", dt)
		}
	}
	if len(f.mtx) > 0 && (len(f.gen) > 0 || len(f.scale) > 0 || len(f.edgeFactor) > 0 || len(f.seeds) > 0) {
		return nil, benchErr("give --mtx or --gen/--scale/--ef/--seed, not both")
	}
	var out []bench.Case
	mk := func(a *sparse.CSR[float64], params []bench.Param) error {
		for _, dt := range dts {
			var c bench.Case
			var err error
			if dt == tensor.Float32 {
				c, err = bench.SpGEMMCase(e, sparse.Convert[float32](a), slices.Clone(params), o.RefFLOPs)
			} else {
				c, err = bench.SpGEMMCase(e, a, slices.Clone(params), o.RefFLOPs)
			}
			if err != nil {
				return fmt.Errorf("bench spgemm: %w", err)
			}
			out = append(out, c)
		}
		return nil
	}
	for _, path := range f.mtx {
		a, err := mtx.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("bench spgemm: --mtx: %w", err)
		}
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		if err := mk(a, []bench.Param{{Key: "mtx", Value: name}}); err != nil {
			return nil, err
		}
	}
	if len(f.mtx) > 0 {
		return out, nil
	}
	gens := []string(f.gen)
	if len(gens) == 0 {
		gens = []string{"rmat"}
	}
	for _, g := range gens {
		err := product(func(v []int) error {
			spec := bench.GenSpec{Kind: g, Scale: v[0], EdgeFactor: v[1], Seed: uint64(v[2])}
			a, err := bench.Generate[float64](spec)
			if err != nil {
				return err
			}
			return mk(a, []bench.Param{{Key: "gen", Value: g}, {Key: "scale", Value: v[0]}, {Key: "ef", Value: v[1]}, {Key: "seed", Value: v[2]}})
		}, orInts(f.scale, f.quickOr(10, 16)), orInts(f.edgeFactor, f.quickOr(8, 16)), orInts(f.seeds, 1))
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dtypes parses the --dtype sweep (float32 when not given); the workload
// checks which it takes.
func (f *benchFlags) dtypes() ([]tensor.DType, error) {
	if len(f.dtype) == 0 {
		return []tensor.DType{tensor.Float32}, nil
	}
	out := make([]tensor.DType, len(f.dtype))
	for i, name := range f.dtype {
		dt, ok := tensor.ParseDType(name)
		if !ok {
			return nil, benchErr("--dtype: unknown dtype %q", name)
		}
		out[i] = dt
	}
	return out, nil
}

// product calls fn with every combination of the lists' values, the last
// list varying fastest.
func product(fn func([]int) error, lists ...[]int) error {
	idx := make([]int, len(lists))
	v := make([]int, len(lists))
	for {
		for i, l := range lists {
			v[i] = l[idx[i]]
		}
		if err := fn(v); err != nil {
			return err
		}
		i := len(lists) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(lists[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return nil
		}
	}
}
