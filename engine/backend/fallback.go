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

// either runs op (a Backend method expression) on the primary and, if it
// is unsupported there, on the secondary.
func either[A any](f Fallback, ctx context.Context, a A, op func(Backend, context.Context, A) error) error {
	if err := op(f.Primary, ctx, a); !errors.Is(err, errs.ErrUnsupported) {
		return err
	}
	return op(f.Secondary, ctx, a)
}

// eitherSpGEMM is either for the products, which return C.
func eitherSpGEMM[T float32 | float64](f Fallback, ctx context.Context, a, b *sparse.CSR[T], opt SpGEMMOptions,
	op func(Backend, context.Context, *sparse.CSR[T], *sparse.CSR[T], SpGEMMOptions) (*sparse.CSR[T], error)) (*sparse.CSR[T], error) {
	if c, err := op(f.Primary, ctx, a, b, opt); !errors.Is(err, errs.ErrUnsupported) {
		return c, err
	}
	return op(f.Secondary, ctx, a, b, opt)
}

func (f Fallback) MonarchForward(ctx context.Context, a MonarchArgs) error {
	return either(f, ctx, a, Backend.MonarchForward)
}

func (f Fallback) MonarchBackward(ctx context.Context, a MonarchGradArgs) error {
	return either(f, ctx, a, Backend.MonarchBackward)
}

func (f Fallback) GLAForward(ctx context.Context, a GLAArgs) error {
	return either(f, ctx, a, Backend.GLAForward)
}

func (f Fallback) GLADecode(ctx context.Context, a GLADecodeArgs) error {
	return either(f, ctx, a, Backend.GLADecode)
}

func (f Fallback) W4A4GEMM(ctx context.Context, a W4A4Args) error {
	return either(f, ctx, a, Backend.W4A4GEMM)
}

func (f Fallback) SpGEMM32(ctx context.Context, a, b *sparse.CSR[float32], opt SpGEMMOptions) (*sparse.CSR[float32], error) {
	return eitherSpGEMM(f, ctx, a, b, opt, Backend.SpGEMM32)
}

func (f Fallback) SpGEMM64(ctx context.Context, a, b *sparse.CSR[float64], opt SpGEMMOptions) (*sparse.CSR[float64], error) {
	return eitherSpGEMM(f, ctx, a, b, opt, Backend.SpGEMM64)
}
