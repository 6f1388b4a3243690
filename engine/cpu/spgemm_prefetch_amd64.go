//go:build !purego

package cpu

import "unsafe"

// prefetchRows asks the cache for the start of B's rows k in aCols: their
// columns and values (val is the base of B.Val, valShift log2 of its item
// size). rowPtr[k] should be cached already (prefetchPtrs).
//
//go:noescape
func prefetchRows(aCols []int32, rowPtr *int64, colInd *int32, val unsafe.Pointer, valShift uint)

// prefetchPtrs asks the cache for rowPtr[k], k in aCols.
//
//go:noescape
func prefetchPtrs(aCols []int32, rowPtr *int64)
