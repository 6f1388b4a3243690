// Package backend defines the interface every matmix compute backend
// implements (the CPU backend, the CUDA backend over the real driver or the
// simulator), and the argument structs of its operations.
//
// The engine validates shapes and dtypes (with the Check functions of this
// package) before it calls a backend, and allocates outputs; a backend may
// assume valid arguments but must still return errors, never panic, on
// anything it does not support.
package backend

import (
	"context"

	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
)

// Backend computes the four workloads. Every method writes its outputs into
// tensors the caller allocated; it may run on any goroutine and must be safe
// for concurrent use.
type Backend interface {
	// Name identifies the backend, e.g. "cpu" or "cuda:0".
	Name() string
	// Close releases the backend's resources.
	Close() error

	MonarchForward(ctx context.Context, a MonarchArgs) error
	MonarchBackward(ctx context.Context, a MonarchGradArgs) error

	GLAForward(ctx context.Context, a GLAArgs) error
	GLADecode(ctx context.Context, a GLADecodeArgs) error

	W4A4GEMM(ctx context.Context, a W4A4Args) error

	SpGEMM32(ctx context.Context, a, b *sparse.CSR[float32], opt SpGEMMOptions) (*sparse.CSR[float32], error)
	SpGEMM64(ctx context.Context, a, b *sparse.CSR[float64], opt SpGEMMOptions) (*sparse.CSR[float64], error)
}

// MonarchArgs: y = Monarch(w1, w2) x in the fly convention.
// X is (batch, n), W1 (k, q, p), W2 (l, s, r), Y (batch, l*s); n = k*p, l*r = k*q.
// All operands share one float dtype.
type MonarchArgs struct {
	X, W1, W2 *tensor.Tensor
	Y         *tensor.Tensor // output
}

// MonarchGradArgs: given dY, the gradients of y = Monarch(w1, w2) x.
// Any of DX, DW1, DW2 may be nil (not wanted).
type MonarchGradArgs struct {
	X, W1, W2, DY *tensor.Tensor
	DX, DW1, DW2  *tensor.Tensor // outputs, shaped as X, W1, W2
}

// GLAForm chooses how GLA is computed; every form computes the same function.
type GLAForm int

const (
	// GLAChunked is the parallel form over chunks of 64 (16-row sub-chunks).
	GLAChunked GLAForm = iota
	// GLARecurrent runs the recurrence one token at a time.
	GLARecurrent
)

func (f GLAForm) String() string {
	switch f {
	case GLAChunked:
		return "chunked"
	case GLARecurrent:
		return "recurrent"
	}
	return "unknown"
}

// GLAArgs: gated linear attention over a batch (flash-linear-attention convention).
// Q, K, G are [B, T, H, K]; V and O are [B, T, H, V], one float dtype.
// H0 (optional) and HT (optional output) are float32 [N, H, K, V], where N is
// B, or the number of sequences when CuSeqlens is set (then B must be 1).
type GLAArgs struct {
	Q, K, V, G *tensor.Tensor
	H0         *tensor.Tensor // optional initial state
	CuSeqlens  *tensor.Tensor // optional int32 or int64 [N+1]
	Scale      float64        // already resolved: the engine fills K^-0.5 when the user gives none
	Form       GLAForm
	O          *tensor.Tensor // output
	HT         *tensor.Tensor // optional output: final state
}

// GLADecodeArgs: one recurrent step for a single token per sequence.
// Q, K, G are [B, H, K]; V and O are [B, H, V]; State is float32 [B, H, K, V]
// and is updated in place.
type GLADecodeArgs struct {
	Q, K, V, G *tensor.Tensor
	State      *tensor.Tensor
	Scale      float64
	O          *tensor.Tensor // output
}

// W4A4Args: Y (M, N) float32 = the dequantized group sums of A against W.
type W4A4Args struct {
	A *quant.Activations
	W *quant.Weights
	Y *tensor.Tensor // output, float32 (M, N)
}

// SpGEMMOptions bound a sparse product.
type SpGEMMOptions struct {
	// MaxBytes bounds the memory the product may allocate (output and
	// workspace); 0 means the engine's default.
	MaxBytes int64
}
