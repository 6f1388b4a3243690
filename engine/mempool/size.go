package mempool

import (
	"math"

	"github.com/matmix/matmix/engine/errs"
)

// Size classes, the rounding of PyTorch's CUDA caching allocator
// (c10/cuda/CUDACachingAllocator.cpp: kMinBlockSize, kSmallSize,
// kRoundLarge): a request under SmallSize rounds up to a multiple of
// MinBlock, a larger one to a multiple of LargeRound. Rounding makes
// requests of nearby sizes share cached blocks, at the cost of at most 511
// bytes (small) or 2 MiB - 1 (large) of slack per block.
const (
	MinBlock   = 512
	SmallSize  = 1 << 20
	LargeRound = 2 << 20
)

// RoundSize returns the size class of a request of n bytes: the size of the
// block a Pool hands out for it. n = 0 gets MinBlock, so that every
// allocation has a distinct address.
func RoundSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, errs.Argument("mempool", "negative allocation size %d", n)
	case n > math.MaxInt-LargeRound:
		return 0, errs.Limit("mempool", "allocation of %d bytes overflows its size class", n)
	case n < SmallSize:
		return roundUp(max(n, 1), MinBlock), nil
	}
	return roundUp(n, LargeRound), nil
}

func roundUp(n, step int) int { return (n + step - 1) / step * step }
