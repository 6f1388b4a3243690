package backend

import (
	"context"
	"errors"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

// Fallback is a Backend that runs every operation on Primary and, where
// Primary refuses it as unsupported (errs.ErrUnsupported: a dtype or a
// workload it has no kernels for, refused before it touches any output),
// on Secondary. engine.Open's "auto" backend is a GPU backend with the CPU
// behind it this way, so that every workload runs wherever a GPU is found.
type Fallback struct {
	Primary, Secondary Backend
}

// Name is the primary's name.
func (f Fallback) Name() string { return f.Primary.Name() }

// Close closes both backends.
func (f Fallback) Close() error { return errors.Join(f.Primary.Close(), f.Secondary.Close()) }

// either runs op on the primary and, if it is unsupported there, on the
// secondary.
func either(primary, secondary func() error) error {
	if err := primary(); !errors.Is(err, errs.ErrUnsupported) {
		return err
	}
	return secondary()
}

func (f Fallback) MonarchForward(ctx context.Context, a MonarchArgs) error {
	return either(func() error { return f.Primary.MonarchForward(ctx, a) },
		func() error { return f.Secondary.MonarchForward(ctx, a) })
}

func (f Fallback) MonarchBackward(ctx context.Context, a MonarchGradArgs) error {
	return either(func() error { return f.Primary.MonarchBackward(ctx, a) },
		func() error { return f.Secondary.MonarchBackward(ctx, a) })
}

func (f Fallback) GLAForward(ctx context.Context, a GLAArgs) error {
	return either(func() error { return f.Primary.GLAForward(ctx, a) },
		func() error { return f.Secondary.GLAForward(ctx, a) })
}

func (f Fallback) GLADecode(ctx context.Context, a GLADecodeArgs) error {
	return either(func() error { return f.Primary.GLADecode(ctx, a) },
		func() error { return f.Secondary.GLADecode(ctx, a) })
}

func (f Fallback) W4A4GEMM(ctx context.Context, a W4A4Args) error {
	return either(func() error { return f.Primary.W4A4GEMM(ctx, a) },
		func() error { return f.Secondary.W4A4GEMM(ctx, a) })
}

func (f Fallback) SpGEMM32(ctx context.Context, a, b *sparse.CSR[float32], opt SpGEMMOptions) (c *sparse.CSR[float32], err error) {
	err = either(func() (err error) { c, err = f.Primary.SpGEMM32(ctx, a, b, opt); return err },
		func() (err error) { c, err = f.Secondary.SpGEMM32(ctx, a, b, opt); return err })
	return c, err
}

func (f Fallback) SpGEMM64(ctx context.Context, a, b *sparse.CSR[float64], opt SpGEMMOptions) (c *sparse.CSR[float64], err error) {
	err = either(func() (err error) { c, err = f.Primary.SpGEMM64(ctx, a, b, opt); return err },
		func() (err error) { c, err = f.Secondary.SpGEMM64(ctx, a, b, opt); return err })
	return c, err
}
