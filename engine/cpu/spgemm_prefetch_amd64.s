//go:build !purego

#include "textflag.h"

// func prefetchRows(aCols []int32, rowPtr *int64, colInd *int32, val unsafe.Pointer, valShift uint)
//
// For each k in aCols: PREFETCHT0 the first and the last line of B's row k,
// columns colInd[rowPtr[k]:rowPtr[k+1]] and values at val +
// rowPtr[k]<<valShift (its first two lines too): a row of up to 16 entries
// whole, where rows start anywhere in a line. rowPtr[k] and rowPtr[k+1] are
// loaded (prefetchPtrs brought them in earlier); a prefetch never faults,
// whatever the address. A nil val (the symbolic pass) skips the values.
TEXT ·prefetchRows(SB), NOSPLIT, $0-56
	MOVQ aCols_base+0(FP), SI
	MOVQ aCols_len+8(FP), R10
	MOVQ rowPtr+24(FP), DI
	MOVQ colInd+32(FP), R8
	MOVQ val+40(FP), R9
	MOVQ valShift+48(FP), CX
	TESTQ R10, R10
	JEQ rowsDone

rowsLoop:
	MOVLQSX (SI), AX
	MOVQ (DI)(AX*8), BX
	MOVQ 8(DI)(AX*8), DX
	PREFETCHT0 (R8)(BX*4)
	PREFETCHT0 -4(R8)(DX*4)
	TESTQ R9, R9
	JEQ rowsNext
	SHLQ CX, BX
	ADDQ R9, BX
	SHLQ CX, DX
	ADDQ R9, DX
	PREFETCHT0 (BX)
	PREFETCHT0 64(BX)
	PREFETCHT0 -8(DX)

rowsNext:
	ADDQ $4, SI
	DECQ R10
	JNE rowsLoop

rowsDone:
	RET

// func prefetchPtrs(aCols []int32, rowPtr *int64)
//
// PREFETCHT0 rowPtr[k] for each k in aCols.
TEXT ·prefetchPtrs(SB), NOSPLIT, $0-32
	MOVQ aCols_base+0(FP), SI
	MOVQ aCols_len+8(FP), R10
	MOVQ rowPtr+24(FP), DI
	TESTQ R10, R10
	JEQ ptrsDone

ptrsLoop:
	MOVLQSX (SI), AX
	PREFETCHT0 (DI)(AX*8)
	ADDQ $4, SI
	DECQ R10
	JNE ptrsLoop

ptrsDone:
	RET
