package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// strided addresses element i (up to 3) of a strided run: base, base+s,
// base+2s, base+s3 with s3 = 3s, all by addressing mode.
func strided(base, s, s3 reg.Register, i int) Mem {
	switch i {
	case 0:
		return Mem{Base: base}
	case 1:
		return Mem{Base: base, Index: s, Scale: 1}
	case 2:
		return Mem{Base: base, Index: s, Scale: 2}
	case 3:
		return Mem{Base: base, Index: s3, Scale: 1}
	}
	panic("strided: at most 4 elements")
}

// laneKernel emits an mr x nr tile of a lane-batched product: every operand
// element is a vector of `lanes` consecutive floats, one per independent
// product, and C(i, j) (+)= sum over k steps of A(i, p) * B(p, j), lane by
// lane. Operand element (i, j) is at base + i*rs + j*cs (strides in floats),
// so the operands are read and written in place, unpacked. Accumulators live
// in registers 0..mr*nr-1, the A vectors in the next mr, the B vector after.
// mode 0 overwrites C, 1 adds to it, 2 overwrites it with non-temporal
// stores (C's vectors must then be aligned to their size).
func laneKernel(name string, mr, nr, lanes int, v func(int) reg.VecPhysical) {
	TEXT(name, NOSPLIT, "func(k int, a *float32, ars, acs int, b *float32, brs, bcs int, c *float32, crs, ccs int, mode int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes a %dx%d tile of %d-lane vectors: C (+)= A·B lane by lane, strides in floats.", name, mr, nr, lanes))
	k := Load(Param("k"), reg.RCX)
	a := Load(Param("a"), reg.RSI)
	ars := Load(Param("ars"), reg.R9)
	acs := Load(Param("acs"), reg.RAX)
	b := Load(Param("b"), reg.RDI)
	brs := Load(Param("brs"), reg.RBX)
	bcs := Load(Param("bcs"), reg.R11)
	for _, r := range []reg.Register{ars, acs, brs, bcs} {
		SHLQ(U8(2), r)
	}
	ars3, bcs3 := reg.R10, reg.R12
	LEAQ(Mem{Base: ars, Index: ars, Scale: 2}, ars3)
	LEAQ(Mem{Base: bcs, Index: bcs, Scale: 2}, bcs3)

	acc := func(i, j int) reg.VecPhysical { return v(i*nr + j) }
	av := func(i int) reg.VecPhysical { return v(mr*nr + i) }
	bv := v(mr*nr + mr)
	for i := range mr {
		for j := range nr {
			zero(acc(i, j), lanes)
		}
	}
	TESTQ(k, k)
	JE(LabelRef(name + "_store"))
	Label(name + "_loop")
	for i := range mr {
		VMOVUPS(strided(a, ars, ars3, i), av(i))
	}
	for j := range nr {
		VMOVUPS(strided(b, bcs, bcs3, j), bv)
		for i := range mr {
			VFMADD231PS(av(i), bv, acc(i, j))
		}
	}
	ADDQ(acs, a)
	ADDQ(brs, b)
	DECQ(k)
	JNE(LabelRef(name + "_loop"))

	Label(name + "_store")
	c := Load(Param("c"), reg.RDX)
	crs := Load(Param("crs"), reg.R8)
	ccs := Load(Param("ccs"), reg.R13)
	SHLQ(U8(2), crs)
	SHLQ(U8(2), ccs)
	ccs3 := reg.R10
	LEAQ(Mem{Base: ccs, Index: ccs, Scale: 2}, ccs3)
	mode := Load(Param("mode"), reg.R14)
	row := reg.R9
	MOVQ(c, row)
	CMPQ(mode, U8(1))
	JB(LabelRef(name + "_overwrite"))
	JA(LabelRef(name + "_stream"))
	for i := range mr {
		for j := range nr {
			VADDPS(strided(row, ccs, ccs3, j), acc(i, j), acc(i, j))
		}
		ADDQ(crs, row)
	}
	MOVQ(c, row)
	Label(name + "_overwrite")
	for i := range mr {
		for j := range nr {
			VMOVUPS(acc(i, j), strided(row, ccs, ccs3, j))
		}
		ADDQ(crs, row)
	}
	VZEROUPPER()
	RET()
	Label(name + "_stream")
	for i := range mr {
		for j := range nr {
			VMOVNTPS(acc(i, j), strided(row, ccs, ccs3, j))
		}
		ADDQ(crs, row)
	}
	VZEROUPPER()
	RET()
}

// storeFence emits SFENCE: non-temporal stores are weakly ordered, so a
// streaming product fences them before other goroutines read its output.
func storeFence() {
	TEXT("storeFence", NOSPLIT, "func()")
	Doc("storeFence orders the non-temporal stores before it (SFENCE).")
	SFENCE()
	RET()
}
