package main

import (
	"context"
	"fmt"
	"io"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/sparse"
)

// runSpGEMM: matmix run spgemm --a A.mtx [--b B.mtx] [--transpose-b] --out C.mtx.
//
// Values are float64. Without --b, B is A, so --transpose-b alone gives
// A*A^T. C is written as `coordinate real general`, rows sorted.
func runSpGEMM(ctx context.Context, args []string, stdout io.Writer) error {
	c := newRunCommand("spgemm", "--a A.mtx [--b B.mtx] [--transpose-b] --out C.mtx", stdout)
	aPath := c.file("a", "left operand A.mtx (Matrix Market coordinate)", true)
	bPath := c.file("b", "right operand B.mtx (default: A)", false)
	transB := c.fs.Bool("transpose-b", false, "multiply by B^T instead of B")
	outPath := c.output("out", "product C.mtx", true)
	if err := c.parse(args); err != nil {
		return err
	}
	e, err := c.open()
	if err != nil {
		return err
	}
	defer e.Close()
	a, err := c.readMtx("a", *aPath)
	if err != nil {
		return err
	}
	b := a
	if *bPath != "" {
		if b, err = c.readMtx("b", *bPath); err != nil {
			return err
		}
	}
	if *transB {
		if b, err = b.Transpose(); err != nil {
			return err
		}
	}
	prod, err := engine.SpGEMM(ctx, e, a, b)
	if err != nil {
		return err
	}
	out := outputs{cmd: c.name}
	defer out.abort()
	if err := out.mtx("out", *outPath, prod); err != nil {
		return err
	}
	return out.commit()
}

// readMtx reads the Matrix Market file named by flag name.
func (c *runCommand) readMtx(name, path string) (*sparse.CSR[float64], error) {
	m, err := mtx.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("run %s: --%s: %w", c.name, name, err)
	}
	return m, nil
}
