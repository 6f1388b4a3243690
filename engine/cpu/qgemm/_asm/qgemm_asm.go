// Command _asm generates the int8 micro-kernels of package qgemm with avo
// (github.com/mmcloughlin/avo), as engine/cpu/gemm/_asm does for the float32
// ones. Run `go generate` in engine/cpu/qgemm to refresh kernels_amd64.s and
// kernels_amd64.go.
//
// avo v0.5.0 has no AVX-512 VNNI, so VPDPBUSD is emitted as a raw
// instruction (build.Instruction); the Go assembler knows it.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("!purego")
	kernelVNNI("dotKernelVNNI", 6, 2)
	kernelAVX2("dotKernelAVX2", 4, 2)
	Generate()
}

const signature = "func(groups, steps int, a *byte, sa *float32, b *byte, corr *int32, sw *float32, c *float32, ldc int)"

var zmm = []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7, reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15, reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23, reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}

var ymm = []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7, reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}

// args loads the kernel's arguments into fixed registers.
type args struct {
	groups, steps, a, sa, b, corr, sw, c, ldc reg.Register
}

func header(name, doc string) args {
	TEXT(name, NOSPLIT, signature)
	Pragma("noescape")
	Doc(doc)
	r := args{
		groups: Load(Param("groups"), reg.R9),
		steps:  Load(Param("steps"), reg.R10),
		a:      Load(Param("a"), reg.RSI),
		sa:     Load(Param("sa"), reg.R11),
		b:      Load(Param("b"), reg.RDI),
		corr:   Load(Param("corr"), reg.R12),
		sw:     Load(Param("sw"), reg.R13),
		c:      Load(Param("c"), reg.RDX),
		ldc:    Load(Param("ldc"), reg.R8),
	}
	SHLQ(U8(2), r.ldc) // bytes per C row
	return r
}

// vpdpbusd emits VPDPBUSD (AVX-512 VNNI): acc += the sums of four products
// of the unsigned bytes of u and the signed bytes of s, lane by lane,
// wrapping (not saturating) in int32.
func vpdpbusd(s, u, acc reg.VecPhysical) {
	Instruction(&ir.Instruction{
		Opcode:   "VPDPBUSD",
		Operands: []Op{s, u, acc},
		Inputs:   []Op{s, u, acc},
		Outputs:  []Op{acc},
	})
}

// kernelVNNI emits the AVX-512 VNNI kernel for an mr x 16*nv tile. Registers:
// int32 group sums 0..mr*nv-1, float32 sums the next mr*nv, then nv weight
// vectors, one broadcast activation word and nv products of scales. Per
// group the int32 sums start at the bias correction corr, take steps
// VPDPBUSD rounds and are converted and scaled into the float32 sums.
func kernelVNNI(name string, mr, nv int) {
	nr := 16 * nv
	r := header(name, fmt.Sprintf("%s computes a %dx%d tile of the group-scaled int8 product (AVX-512 VNNI).", name, mr, nr))
	acc := func(i, j int) reg.VecPhysical { return zmm[i*nv+j] }
	facc := func(i, j int) reg.VecPhysical { return zmm[mr*nv+i*nv+j] }
	wv := func(j int) reg.VecPhysical { return zmm[2*mr*nv+j] }
	bc := zmm[2*mr*nv+nv]
	prod := func(j int) reg.VecPhysical { return zmm[2*mr*nv+nv+1+j] }

	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VPXORD(facc(i, j), facc(i, j), facc(i, j))
		}
	}
	TESTQ(r.groups, r.groups)
	JE(LabelRef(name + "_store"))

	Label(name + "_group")
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VMOVDQU32(Mem{Base: r.corr, Disp: 64 * j}, acc(i, j))
		}
	}
	MOVQ(r.steps, reg.RBX)
	Label(name + "_step")
	for j := 0; j < nv; j++ {
		VMOVDQU32(Mem{Base: r.b, Disp: 64 * j}, wv(j))
	}
	for i := 0; i < mr; i++ {
		VPBROADCASTD(Mem{Base: r.a, Disp: 4 * i}, bc)
		for j := 0; j < nv; j++ {
			vpdpbusd(wv(j), bc, acc(i, j))
		}
	}
	ADDQ(U32(4*mr), r.a)
	ADDQ(U32(4*nr), r.b)
	DECQ(reg.RBX)
	JNE(LabelRef(name + "_step"))

	for j := 0; j < nv; j++ {
		VMOVUPS(Mem{Base: r.sw, Disp: 64 * j}, wv(j))
	}
	for i := 0; i < mr; i++ {
		VBROADCASTSS(Mem{Base: r.sa, Disp: 4 * i}, bc)
		for j := 0; j < nv; j++ {
			VMULPS(wv(j), bc, prod(j))
			VCVTDQ2PS(acc(i, j), acc(i, j))
			VFMADD231PS(prod(j), acc(i, j), facc(i, j))
		}
	}
	ADDQ(U32(4*mr), r.sa)
	ADDQ(U32(4*nr), r.corr)
	ADDQ(U32(4*nr), r.sw)
	DECQ(r.groups)
	JNE(LabelRef(name + "_group"))

	Label(name + "_store")
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VMOVUPS(facc(i, j), Mem{Base: r.c, Disp: 64 * j})
		}
		ADDQ(r.ldc, r.c)
	}
	VZEROUPPER()
	RET()
}

// kernelAVX2 emits the AVX2 kernel for an mr x 8*nv tile. VPMADDUBSW
// multiplies the unsigned activation bytes by the signed weight bytes and
// adds pairs into int16 (|2*255*7| cannot saturate), VPMADDWD by ones adds
// those pairs into int32. Sixteen registers hold only the int32 sums
// (0..mr*nv-1), so the float32 sums live in the C tile itself.
func kernelAVX2(name string, mr, nv int) {
	nr := 8 * nv
	r := header(name, fmt.Sprintf("%s computes a %dx%d tile of the group-scaled int8 product (AVX2).", name, mr, nr))
	acc := func(i, j int) reg.VecPhysical { return ymm[i*nv+j] }
	wv := func(j int) reg.VecPhysical { return ymm[mr*nv+j] }
	bc := ymm[mr*nv+nv]
	t := ymm[mr*nv+nv+1]
	ones := ymm[mr*nv+nv+2]
	sa, prod, cv := ymm[mr*nv+nv+3], ymm[mr*nv+nv+4], ymm[mr*nv+nv+5]
	row := reg.RAX

	VPCMPEQW(ones, ones, ones)
	VPSRLW(U8(15), ones, ones) // int16 ones
	VXORPS(cv, cv, cv)
	MOVQ(r.c, row)
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VMOVUPS(cv, Mem{Base: row, Disp: 32 * j})
		}
		ADDQ(r.ldc, row)
	}
	TESTQ(r.groups, r.groups)
	JE(LabelRef(name + "_done"))

	Label(name + "_group")
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VMOVDQU(Mem{Base: r.corr, Disp: 32 * j}, acc(i, j))
		}
	}
	MOVQ(r.steps, reg.RBX)
	Label(name + "_step")
	for j := 0; j < nv; j++ {
		VMOVDQU(Mem{Base: r.b, Disp: 32 * j}, wv(j))
	}
	for i := 0; i < mr; i++ {
		VPBROADCASTD(Mem{Base: r.a, Disp: 4 * i}, bc)
		for j := 0; j < nv; j++ {
			VPMADDUBSW(wv(j), bc, t)
			VPMADDWD(ones, t, t)
			VPADDD(t, acc(i, j), acc(i, j))
		}
	}
	ADDQ(U32(4*mr), r.a)
	ADDQ(U32(4*nr), r.b)
	DECQ(reg.RBX)
	JNE(LabelRef(name + "_step"))

	MOVQ(r.c, row)
	for i := 0; i < mr; i++ {
		VBROADCASTSS(Mem{Base: r.sa, Disp: 4 * i}, sa)
		for j := 0; j < nv; j++ {
			VMULPS(Mem{Base: r.sw, Disp: 32 * j}, sa, prod)
			VCVTDQ2PS(acc(i, j), acc(i, j))
			VMOVUPS(Mem{Base: row, Disp: 32 * j}, cv)
			VFMADD231PS(prod, acc(i, j), cv)
			VMOVUPS(cv, Mem{Base: row, Disp: 32 * j})
		}
		ADDQ(r.ldc, row)
	}
	ADDQ(U32(4*mr), r.sa)
	ADDQ(U32(4*nr), r.corr)
	ADDQ(U32(4*nr), r.sw)
	DECQ(r.groups)
	JNE(LabelRef(name + "_group"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}
