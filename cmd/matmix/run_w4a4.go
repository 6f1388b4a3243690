package main

import (
	"context"
	"fmt"
	"io"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/tensor"
)

// runW4A4: matmix run w4a4 --x X.npy --w W.npy [--group 128] [--int8-frac 0] --out Y.npy.
//
// W4A4 is defined on float32 inputs and gives float32 y (the spec), so x and
// w must be float32: a float64 input is refused rather than rounded, since
// the general rule "float64 in, float64 out, computed in float64" cannot
// hold for a quantized product. The quantization error, a figure of merit
// the spec wants reported, goes to stdout as one line:
//
//	w4a4: relative error 1.234567e-02 (||y - x w^T||_F / ||x w^T||_F, x w^T in float32)
func runW4A4(ctx context.Context, args []string, stdout io.Writer) error {
	c := newRunCommand("w4a4", "--x X.npy --w W.npy [--group 128] [--int8-frac 0] --out Y.npy", stdout)
	xPath := c.file("x", "activations X.npy (M, K), float32", true)
	wPath := c.file("w", "weights W.npy (N, K), float32, rows are output channels", true)
	group := c.fs.Int("group", quant.DefaultGroup, "quantization group size along K")
	frac := c.fs.Float64("int8-frac", 0, "share of activation groups kept at 8 bits, in [0, 1]")
	outPath := c.output("out", "output Y.npy (M, N), float32", true)
	if err := c.parse(args); err != nil {
		return err
	}
	if *group < 1 {
		return c.errorf("--group must be >= 1, got %d", *group)
	}
	if !(*frac >= 0 && *frac <= 1) {
		return c.errorf("--int8-frac must lie in [0, 1], got %v", *frac)
	}
	e, err := c.open()
	if err != nil {
		return err
	}
	defer e.Close()
	x, err := c.readNpy("x", *xPath)
	if err != nil {
		return err
	}
	w, err := c.readNpy("w", *wPath)
	if err != nil {
		return err
	}
	for _, in := range []struct {
		name string
		t    *tensor.Tensor
	}{{"x", x}, {"w", w}} {
		if in.t.DType() != tensor.Float32 {
			return errs.DType("run w4a4", "--%s is %v; W4A4 quantizes float32 inputs (save it as float32)", in.name, in.t.DType())
		}
	}
	res, err := e.W4A4(ctx, x, w, *group, *frac)
	if err != nil {
		return err
	}
	out := outputs{cmd: c.name}
	defer out.abort()
	if err := out.npy("out", *outPath, res.Y); err != nil {
		return err
	}
	if err := out.commit(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "w4a4: relative error %.6e (||y - x w^T||_F / ||x w^T||_F, x w^T in float32)\n", res.RelErr)
	return err
}
