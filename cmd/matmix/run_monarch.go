package main

import (
	"context"
	"io"
)

// runMonarch: matmix run monarch --x X.npy --w1 W1.npy --w2 W2.npy --out Y.npy.
// y = Monarch(w1, w2) x in the fly convention, in x's dtype.
func runMonarch(ctx context.Context, args []string, stdout io.Writer) error {
	c := newRunCommand("monarch", "--x X.npy --w1 W1.npy --w2 W2.npy --out Y.npy", stdout)
	xPath := c.file("x", "input X.npy of shape (batch, n), n = k*p", true)
	w1Path := c.file("w1", "first factor W1.npy of shape (k, q, p)", true)
	w2Path := c.file("w2", "second factor W2.npy of shape (l, s, r), l*r = k*q", true)
	outPath := c.output("out", "output Y.npy of shape (batch, l*s), in x's dtype", true)
	if err := c.parse(args); err != nil {
		return err
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
	w1, err := c.readNpy("w1", *w1Path)
	if err != nil {
		return err
	}
	w2, err := c.readNpy("w2", *w2Path)
	if err != nil {
		return err
	}
	y, err := e.Monarch(ctx, x, w1, w2)
	if err != nil {
		return err
	}
	out := outputs{cmd: c.name}
	defer out.abort()
	if err := out.npy("out", *outPath, y); err != nil {
		return err
	}
	return out.commit()
}
