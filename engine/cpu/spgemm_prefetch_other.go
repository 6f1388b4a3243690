//go:build purego || !amd64

package cpu

import "unsafe"

// prefetchRows and prefetchPtrs are hints; without the assembly they do
// nothing (see spgemm_prefetch_amd64.s).
func prefetchRows(aCols []int32, rowPtr *int64, colInd *int32, val unsafe.Pointer, valShift uint) {}

func prefetchPtrs(aCols []int32, rowPtr *int64) {}
