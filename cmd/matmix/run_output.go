package main

import (
	"fmt"

	"github.com/matmix/matmix/engine/atomicfile"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/npy"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
)

// outputs are a command's output files, written to temporary files first
// and renamed into place together once all of them are complete, so that a
// failure leaves none of them behind (and existing files unchanged).
type outputs struct {
	cmd   string
	files []*atomicfile.File
}

func (o *outputs) create(flagName, path string) (*atomicfile.File, error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, fmt.Errorf("run %s: --%s: %w", o.cmd, flagName, err)
	}
	o.files = append(o.files, f)
	return f, nil
}

// npy stages t as the .npy file path.
func (o *outputs) npy(flagName, path string, t *tensor.Tensor) error {
	f, err := o.create(flagName, path)
	if err != nil {
		return err
	}
	if err := npy.Write(f, t); err != nil {
		return fmt.Errorf("run %s: --%s: writing %s: %w", o.cmd, flagName, path, err)
	}
	return nil
}

// mtx stages m as the Matrix Market file path.
func (o *outputs) mtx(flagName, path string, m *sparse.CSR[float64]) error {
	f, err := o.create(flagName, path)
	if err != nil {
		return err
	}
	if err := mtx.Write(f, m); err != nil {
		return fmt.Errorf("run %s: --%s: writing %s: %w", o.cmd, flagName, path, err)
	}
	return nil
}

// commit puts every staged file in place.
func (o *outputs) commit() error {
	for i, f := range o.files {
		if err := f.Commit(); err != nil {
			for _, g := range o.files[i+1:] {
				g.Abort()
			}
			return fmt.Errorf("run %s: %w", o.cmd, err)
		}
	}
	return nil
}

// abort drops whatever was not committed; deferred by every command.
func (o *outputs) abort() {
	for _, f := range o.files {
		f.Abort()
	}
}
