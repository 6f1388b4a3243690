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
	kernel("sgemmKernelAVX512", 12, 2, 16, zmm, reg.Z0)
	kernel("sgemmKernelAVX2", 6, 2, 8, ymm, reg.Y0)
	Generate()
}

var zmm = func(i int) reg.VecPhysical {
	return []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7, reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15, reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23, reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}[i]
}
var ymm = func(i int) reg.VecPhysical {
	return []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7, reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}[i]
}

// kernel emits C[mr x nv*lanes] (+)= Apanel · Bpanel over kc steps, where the
// A panel is packed k-major with mr values per k and the B panel k-major with
// nv*lanes values per k. Accumulators live in registers 0..mr*nv-1, the B
// vectors in the next nv registers and the broadcast A value in the one after.
// If load is non-zero the tile of C (row stride ldc floats) is added to.
func kernel(name string, mr, nv, lanes int, v func(int) reg.VecPhysical, _ reg.VecPhysical) {
	TEXT(name, NOSPLIT, "func(kc int, a, b, c *float32, ldc int, load bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes a %dx%d tile: C (+)= A·B over kc steps of packed panels.", name, mr, nv*lanes))
	kc := Load(Param("kc"), reg.RCX)
	a := Load(Param("a"), reg.RSI)
	b := Load(Param("b"), reg.RDI)
	c := Load(Param("c"), reg.RDX)
	ldc := Load(Param("ldc"), reg.R8)
	SHLQ(U8(2), ldc) // bytes per C row

	acc := func(i, j int) reg.VecPhysical { return v(i*nv + j) }
	bv := func(j int) reg.VecPhysical { return v(mr*nv + j) }
	bc := v(mr*nv + nv)
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			if lanes == 16 {
				VPXORD(acc(i, j), acc(i, j), acc(i, j)) // VXORPS on zmm would need AVX512DQ
			} else {
				VXORPS(acc(i, j), acc(i, j), acc(i, j))
			}
		}
	}
	TESTQ(kc, kc)
	JE(LabelRef(name + "_store"))
	Label(name + "_loop")
	for j := 0; j < nv; j++ {
		VMOVUPS(Mem{Base: b, Disp: 4 * lanes * j}, bv(j))
	}
	for i := 0; i < mr; i++ {
		VBROADCASTSS(Mem{Base: a, Disp: 4 * i}, bc)
		for j := 0; j < nv; j++ {
			VFMADD231PS(bv(j), bc, acc(i, j))
		}
	}
	ADDQ(U32(4*mr), a)
	ADDQ(U32(4*lanes*nv), b)
	DECQ(kc)
	JNE(LabelRef(name + "_loop"))

	Label(name + "_store")
	load := Load(Param("load"), reg.R9B)
	row := reg.R10
	MOVQ(c, row)
	TESTB(load, load)
	JE(LabelRef(name + "_overwrite"))
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VADDPS(Mem{Base: row, Disp: 4 * lanes * j}, acc(i, j), acc(i, j))
		}
		ADDQ(ldc, row)
	}
	MOVQ(c, row)
	Label(name + "_overwrite")
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VMOVUPS(acc(i, j), Mem{Base: row, Disp: 4 * lanes * j})
		}
		ADDQ(ldc, row)
	}
	VZEROUPPER()
	RET()
}
