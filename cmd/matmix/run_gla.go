package main

import (
	"context"
	"io"
	"math"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/tensor"
)

// runGLA: matmix run gla --q Q.npy --k K.npy --v V.npy --g G.npy [--h0 H0.npy]
// [--scale S] [--cu-seqlens CU.npy] --out O.npy [--final-state HT.npy].
//
// o takes q's dtype. The recurrent state is float32 (the spec's, as in
// flash-linear-attention), so --final-state is written as float32 whatever
// the inputs, and a float64 --h0 is rounded to float32 on the way in.
func runGLA(ctx context.Context, args []string, stdout io.Writer) error {
	c := newRunCommand("gla", "--q Q.npy --k K.npy --v V.npy --g G.npy [--h0 H0.npy] [--scale S] [--cu-seqlens CU.npy] --out O.npy [--final-state HT.npy]", stdout)
	qPath := c.file("q", "queries Q.npy [B, T, H, K]", true)
	kPath := c.file("k", "keys K.npy [B, T, H, K]", true)
	vPath := c.file("v", "values V.npy [B, T, H, V]", true)
	gPath := c.file("g", "log decays G.npy [B, T, H, K] (normally <= 0)", true)
	h0Path := c.file("h0", "initial state H0.npy [N, H, K, V], float32 (float64 is rounded to float32)", false)
	cuPath := c.file("cu-seqlens", "sequence offsets CU.npy [N+1], int32 or int64, from 0 to T (needs B = 1)", false)
	scale := c.fs.Float64("scale", 0, "attention scale (default K^-0.5)")
	outPath := c.output("out", "output O.npy [B, T, H, V], in q's dtype", true)
	htPath := c.output("final-state", "final state HT.npy [N, H, K, V], float32", false)
	if err := c.parse(args); err != nil {
		return err
	}
	// The engine reads a zero scale as "K^-0.5"; an explicit zero is a mistake.
	if c.flagSet("scale") && (*scale == 0 || math.IsNaN(*scale) || math.IsInf(*scale, 0)) {
		return c.errorf("--scale must be a finite non-zero number, got %v (omit it for K^-0.5)", *scale)
	}
	e, err := c.open()
	if err != nil {
		return err
	}
	defer e.Close()

	var in [4]*tensor.Tensor
	for i, f := range []struct{ name, path string }{{"q", *qPath}, {"k", *kPath}, {"v", *vPath}, {"g", *gPath}} {
		if in[i], err = c.readNpy(f.name, f.path); err != nil {
			return err
		}
		if err := c.requireFloat(f.name, in[i]); err != nil {
			return err
		}
	}
	opt := engine.GLAOptions{Scale: *scale, FinalState: *htPath != ""}
	if *h0Path != "" {
		if opt.H0, err = c.readNpy("h0", *h0Path); err != nil {
			return err
		}
		if opt.H0.DType() == tensor.Float64 {
			if opt.H0, err = narrowToFloat32(opt.H0); err != nil {
				return err
			}
		}
	}
	if *cuPath != "" {
		if opt.CuSeqlens, err = c.readNpy("cu-seqlens", *cuPath); err != nil {
			return err
		}
	}
	o, ht, err := e.GLA(ctx, in[0], in[1], in[2], in[3], opt)
	if err != nil {
		return err
	}
	out := outputs{cmd: c.name}
	defer out.abort()
	if err := out.npy("out", *outPath, o); err != nil {
		return err
	}
	if ht != nil {
		if err := out.npy("final-state", *htPath, ht); err != nil {
			return err
		}
	}
	return out.commit()
}

// narrowToFloat32 rounds a float64 host tensor to a new float32 one.
func narrowToFloat32(t *tensor.Tensor) (*tensor.Tensor, error) {
	n, err := tensor.New(tensor.Float32, t.Shape()...)
	if err != nil {
		return nil, err
	}
	if err := n.SetFromFloat64(t.Float64()); err != nil {
		return nil, err
	}
	return n, nil
}
