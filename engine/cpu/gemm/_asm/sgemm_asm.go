// Command _asm generates the SIMD micro-kernels of package gemm with avo
// (github.com/mmcloughlin/avo), as the Go standard library's crypto packages
// generate theirs. Run `go generate` in engine/cpu/gemm to refresh
// kernels_amd64.s and kernels_amd64.go.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("!purego")
	kernel("sgemmKernelAVX512", 12, 2, 16, zmm)
	kernel("sgemmKernelAVX2", 6, 2, 8, ymm)
	directKernel("sgemmDirectAVX512", 12, 2, 16, zmm)
	directKernel("sgemmDirectAVX2", 6, 2, 8, ymm)
	laneKernel("laneKernelAVX512", 4, 4, 16, zmm)
	laneKernel("laneKernelAVX2", 4, 2, 8, ymm)
	storeFence()
	Generate()
}

var zmm = func(i int) reg.VecPhysical {
	return []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7, reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15, reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23, reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}[i]
}
var ymm = func(i int) reg.VecPhysical {
	return []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7, reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}[i]
}

// zero clears a vector register (VXORPS on zmm would need AVX512DQ).
func zero(r reg.VecPhysical, lanes int) {
	if lanes == 16 {
		VPXORD(r, r, r)
	} else {
		VXORPS(r, r, r)
	}
}

// unroll is how many k steps one pass of a packed kernel's main loop takes:
// fewer loop-counter updates and branches per FMA.
const unroll = 4

// tile is the register plan shared by the broadcast kernels: accumulators
// in registers 0..mr*nv-1, the B vectors in the next nv registers and the
// broadcast A value in the one after.
type tile struct {
	name          string
	mr, nv, lanes int
	v             func(int) reg.VecPhysical
}

func (t tile) acc(i, j int) reg.VecPhysical { return t.v(i*t.nv + j) }
func (t tile) bv(j int) reg.VecPhysical     { return t.v(t.mr*t.nv + j) }
func (t tile) bc() reg.VecPhysical          { return t.v(t.mr*t.nv + t.nv) }

// prefetchC starts fetching the tile of C: its rows are far apart in a large
// matrix and would otherwise miss at the end, after the FMAs.
func (t tile) prefetchC(c, ldc, row reg.Register) {
	rowBytes := 4 * t.lanes * t.nv
	MOVQ(c, row)
	for range t.mr {
		for off := 0; off < rowBytes; off += 64 {
			PREFETCHT0(Mem{Base: row, Disp: off})
		}
		PREFETCHT0(Mem{Base: row, Disp: rowBytes - 4})
		ADDQ(ldc, row)
	}
}

func (t tile) zeroAcc() {
	for i := range t.mr {
		for j := range t.nv {
			zero(t.acc(i, j), t.lanes)
		}
	}
}

// step emits k step u of an unrolled group: load the B vectors, then one
// broadcast of A and nv FMAs per row.
func (t tile) step(b reg.Register, u int, aAddr func(i, u int) Mem) {
	for j := range t.nv {
		VMOVUPS(Mem{Base: b, Disp: 4 * t.lanes * (u*t.nv + j)}, t.bv(j))
	}
	for i := range t.mr {
		VBROADCASTSS(aAddr(i, u), t.bc())
		for j := range t.nv {
			VFMADD231PS(t.bv(j), t.bc(), t.acc(i, j))
		}
	}
}

// loop emits the k loop: groups of `unroll` steps, then single steps;
// advance(n) moves the operand pointers past n steps.
func (t tile) loop(kc, blocks reg.Register, b reg.Register, aAddr func(i, u int) Mem, advance func(n int)) {
	MOVQ(kc, blocks)
	SHRQ(U8(2), blocks)
	ANDQ(U8(unroll-1), kc)
	TESTQ(blocks, blocks)
	JE(LabelRef(t.name + "_tail"))
	Label(t.name + "_loop")
	for u := range unroll {
		t.step(b, u, aAddr)
	}
	advance(unroll)
	DECQ(blocks)
	JNE(LabelRef(t.name + "_loop"))

	Label(t.name + "_tail")
	TESTQ(kc, kc)
	JE(LabelRef(t.name + "_store"))
	Label(t.name + "_tailloop")
	t.step(b, 0, aAddr)
	advance(1)
	DECQ(kc)
	JNE(LabelRef(t.name + "_tailloop"))
}

// store adds the tile to C if the load argument is set, then writes it;
// loadReg receives that argument.
func (t tile) store(c, ldc, row reg.Register, loadReg reg.GPPhysical) {
	Label(t.name + "_store")
	load := Load(Param("load"), loadReg)
	MOVQ(c, row)
	TESTB(load, load)
	JE(LabelRef(t.name + "_overwrite"))
	for i := range t.mr {
		for j := range t.nv {
			VADDPS(Mem{Base: row, Disp: 4 * t.lanes * j}, t.acc(i, j), t.acc(i, j))
		}
		ADDQ(ldc, row)
	}
	MOVQ(c, row)
	Label(t.name + "_overwrite")
	for i := range t.mr {
		for j := range t.nv {
			VMOVUPS(t.acc(i, j), Mem{Base: row, Disp: 4 * t.lanes * j})
		}
		ADDQ(ldc, row)
	}
	VZEROUPPER()
	RET()
}

// kernel emits C[mr x nv*lanes] (+)= Apanel · Bpanel over kc steps, where the
// A panel is packed k-major with mr values per k and the B panel k-major with
// nv*lanes values per k. If load is non-zero the tile of C (row stride ldc
// floats) is added to.
func kernel(name string, mr, nv, lanes int, v func(int) reg.VecPhysical) {
	t := tile{name, mr, nv, lanes, v}
	TEXT(name, NOSPLIT, "func(kc int, a, b, c *float32, ldc int, load bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes a %dx%d tile: C (+)= A·B over kc steps of packed panels.", name, mr, nv*lanes))
	kc := Load(Param("kc"), reg.RCX)
	a := Load(Param("a"), reg.RSI)
	b := Load(Param("b"), reg.RDI)
	c := Load(Param("c"), reg.RDX)
	ldc := Load(Param("ldc"), reg.R8)
	SHLQ(U8(2), ldc) // bytes per C row
	t.prefetchC(c, ldc, reg.R10)
	t.zeroAcc()
	t.loop(kc, reg.R11, b, func(i, u int) Mem { return Mem{Base: a, Disp: 4 * (u*mr + i)} }, func(n int) {
		ADDQ(U32(4*mr*n), a)
		ADDQ(U32(4*lanes*nv*n), b)
	})
	t.store(c, ldc, reg.R10, reg.R9B)
}

// directKernel emits the kernel of `kernel` with A read in place instead of
// from a packed panel: row i of the tile at a + i*lda floats, consecutive k
// contiguous (a row-major A). A panel read a few times (a product with few
// columns, such as one Monarch block) costs less read in place than copied.
// Rows are addressed from one base per four rows with the row stride and
// three times it as index registers.
func directKernel(name string, mr, nv, lanes int, v func(int) reg.VecPhysical) {
	t := tile{name, mr, nv, lanes, v}
	TEXT(name, NOSPLIT, "func(kc int, a *float32, lda int, b, c *float32, ldc int, load bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes a %dx%d tile: C (+)= A·B over kc steps, A row-major in place (row stride lda), B a packed panel.", name, mr, nv*lanes))
	kc := Load(Param("kc"), reg.RCX)
	lda := Load(Param("lda"), reg.R9)
	SHLQ(U8(2), lda)
	lda3 := reg.R10
	LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	bases := []reg.Register{Load(Param("a"), reg.RSI), reg.R12, reg.R13}[:(mr+3)/4]
	for g := 1; g < len(bases); g++ {
		LEAQ(Mem{Base: bases[g-1], Index: lda, Scale: 4}, bases[g])
	}
	b := Load(Param("b"), reg.RDI)
	c := Load(Param("c"), reg.RDX)
	ldc := Load(Param("ldc"), reg.R8)
	SHLQ(U8(2), ldc)
	t.prefetchC(c, ldc, reg.R14)
	t.zeroAcc()
	t.loop(kc, reg.R11, b, func(i, u int) Mem {
		m := strided(bases[i/4], lda, lda3, i%4)
		m.Disp = 4 * u
		return m
	}, func(n int) {
		for _, base := range bases {
			ADDQ(U32(4*n), base)
		}
		ADDQ(U32(4*lanes*nv*n), b)
	})
	t.store(c, ldc, reg.R14, reg.R9B)
}
