// Command gla generates the SIMD kernels of the CPU backend's GLA loops
// (package cpu, gla_amd64.s) with avo: the gate decay x ⊙ 2^(bh - bl)
// (exp2 in float64 lanes, rounded to float32), the float32 vector products
// of the chunked form's fallback walk, and a prefetch of the next chunk's
// rows. Run `go generate` in
// engine/cpu to refresh gla_amd64.s and gla_amd64.go.
package main

import (
	"fmt"
	"math"
	"math/bits"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("!purego")
	c := newConsts()
	decayAVX512(c)
	decayAVX2(c)
	gatesAVX512(c)
	gatesAVX2(c)
	for _, s := range []isa{avx512, avx2} {
		mulKernel(s)
		scalKernel(s)
		dotKernel(s)
	}
	prefetchKernel()
	Generate()
}

// isa is one vector width: its name suffix, bytes per vector and a fresh
// virtual vector register.
type isa struct {
	name  string
	bytes int
	vec   func() reg.VecVirtual
}

var (
	avx512 = isa{"AVX512", 64, ZMM}
	avx2   = isa{"AVX2", 32, YMM}
)

// shift is log2 of the floats a vector holds.
func (s isa) shift() int { return bits.TrailingZeros(uint(s.bytes / 4)) }

// Bounds of the exponent and the gate floor; they must match engine/cpu
// (exp2f32 and glaGateFloor). 2^-160 and 2^128 round to float32 0 and +Inf,
// and both keep 2^n a normal float64.
const (
	expLo     = -160
	expHi     = 128
	gateFloor = -1100
	// round is 1.5*2^52: x + round - round rounds x to an integer, and the
	// low bits of x + round hold that integer.
	round = 1.5 * (1 << 52)
)

// consts are the decay kernels' constants, each four float64 copies (a
// whole ymm operand; the AVX-512 kernel broadcasts the first).
type consts struct {
	lo, hi, floor, round Mem
	log2e, one           Mem
	poly                 []Mem // Taylor coefficients of 2^f, degree 7 first, 1 last
}

func newConsts() consts {
	vec4 := func(name string, v float64) Mem {
		m := GLOBL(name, RODATA|NOPTR)
		for i := range 4 {
			// By its bits: the assembler reads an integral $(-160) as an
			// integer, not a float64.
			DATA(8*i, U64(math.Float64bits(v)))
		}
		return m
	}
	c := consts{
		lo:    vec4("glaExpLo", expLo),
		hi:    vec4("glaExpHi", expHi),
		floor: vec4("glaGateFloor", gateFloor),
		round: vec4("glaRound", round),
		log2e: vec4("glaLog2E", math.Log2E),
		one:   vec4("glaOne", 1),
	}
	// c_i = ln(2)^i / i!, as exp2f32's polynomial.
	coef := []float64{1}
	for i := 1; i <= 7; i++ {
		coef = append(coef, coef[i-1]*math.Ln2/float64(i))
	}
	for i := 7; i >= 0; i-- {
		c.poly = append(c.poly, vec4(fmt.Sprintf("glaExp2C%d", i), coef[i]))
	}
	return c
}

// begin emits a kernel's header and loads its integer and pointer
// arguments, in order.
func begin(name, sig, doc string, params ...string) []reg.GPVirtual {
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	var r []reg.GPVirtual
	for _, p := range params {
		r = append(r, Load(Param(p), GP64()).(reg.GPVirtual))
	}
	return r
}

// end leaves a kernel, clearing the vector registers' upper halves for SSE
// code that follows.
func end() {
	VZEROUPPER()
	RET()
}

const decaySig = "func(n int, dst *float32, x *float32, s float32, bh *float64, bl *float64, mh *float64, ml *float64)"

// decayArgs emits a decay kernel's header, loads its pointers and count,
// and broadcasts its scale s into a register from vec.
func decayArgs(name, doc string, vec func() reg.VecVirtual) (n, dst, x, bh, bl, mh, ml reg.GPVirtual, s reg.VecVirtual) {
	r := begin(name, decaySig, doc, "n", "dst", "x", "bh", "bl", "mh", "ml")
	s = vec()
	VBROADCASTSS(Load(Param("s"), XMM()), s)
	return r[0], r[1], r[2], r[3], r[4], r[5], r[6], s
}

// stride is a pointer a loop advances by bytes each pass.
type stride struct {
	p     reg.GPVirtual
	bytes int
}

// loop emits body over n elements, 1<<shift of them a pass (n is a
// multiple), each pass then advancing the strides' pointers.
func loop(name string, n reg.GPVirtual, shift int, body func(), strides ...stride) {
	SHRQ(U8(shift), n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	body()
	for _, s := range strides {
		ADDQ(U32(s.bytes), s.p)
	}
	DECQ(n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
}

// decayStrides are the decay kernels' steps for step elements a pass:
// float32 dst and x, float64 bh, bl, mh, ml.
func decayStrides(step int, dst, x, bh, bl, mh, ml reg.GPVirtual) []stride {
	return []stride{{dst, 4 * step}, {x, 4 * step}, {bh, 8 * step}, {bl, 8 * step}, {mh, 8 * step}, {ml, 8 * step}}
}

// scaleStore emits dst[off] = y * x[off] * s, the factors y rounded to
// float32 already (offsets in bytes).
func scaleStore(y, s reg.Register, x, dst reg.GPVirtual, off int) {
	VMULPS(Mem{Base: x, Disp: off}, y, y)
	VMULPS(s, y, y)
	VMOVUPS(y, Mem{Base: dst, Disp: off})
}

// exponent emits e = bh - bl + floor*(mh - ml) for the 64-bit lanes at byte
// offset off, clamped to [lo, hi] with NaN kept (the clamps return their
// second source, e, when either is NaN).
func exponent(e, t reg.VecVirtual, off int, bh, bl, mh, ml reg.GPVirtual, floor, lo, hi Op) {
	VMOVUPD(Mem{Base: bh, Disp: off}, e)
	VSUBPD(Mem{Base: bl, Disp: off}, e, e)
	VMOVUPD(Mem{Base: mh, Disp: off}, t)
	VSUBPD(Mem{Base: ml, Disp: off}, t, t)
	VFMADD231PD(floor, t, e)
	VMAXPD(e, lo, e)
	VMINPD(e, hi, e)
}

// horner emits p = 2^f for |f| <= 1/2 from the coefficients (registers or
// memory), degree 7 first.
func horner(p, f reg.VecVirtual, poly []Op) {
	VMOVUPD(poly[0], p)
	for _, c := range poly[1:] {
		VFMADD213PD(c, f, p)
	}
}

// bcast emits a zmm register holding the float64 constant at m in every
// lane.
func bcast(m Mem) reg.VecVirtual {
	z := ZMM()
	VBROADCASTSD(m, z)
	return z
}

// decayAVX512 emits dst = s * x ⊙ 2^e over n floats (a multiple of 16), e
// as exponent: eight float64 lanes at a time, n = round(e) by VRNDSCALEPD,
// 2^f by the polynomial, scaled by 2^n with VSCALEFPD, rounded to float32.
func decayAVX512(c consts) {
	n, dst, x, bh, bl, mh, ml, s := decayArgs("glaDecayAVX512",
		"glaDecayAVX512 sets dst = s*x ⊙ 2^(bh - bl + glaGateFloor*(mh - ml)) for n floats, n a multiple of 16.", YMM)
	lo, hi, floor := bcast(c.lo), bcast(c.hi), bcast(c.floor)
	var poly []Op
	for _, m := range c.poly {
		poly = append(poly, bcast(m))
	}
	loop("decay512", n, 4, func() {
		for g := range 2 {
			e, t, p := ZMM(), ZMM(), ZMM()
			exponent(e, t, 64*g, bh, bl, mh, ml, floor, lo, hi)
			VRNDSCALEPD(U8(0), e, t) // t = n, nearest even
			VSUBPD(t, e, e)          // e = f
			horner(p, e, poly)
			VSCALEFPD(t, p, p)
			y := YMM()
			VCVTPD2PS(p, y)
			scaleStore(y, s, x, dst, 32*g)
		}
	}, decayStrides(16, dst, x, bh, bl, mh, ml)...)
	end()
}

// decayAVX2 is decayAVX512 in four float64 lanes, n a multiple of 8.
// Without VSCALEFPD and VRNDSCALEPD it rounds by adding 1.5*2^52, whose low
// bits then hold n; n<<52 added to 2^f's bits scales it (2^f*2^n stays
// normal in float64), and NaN lanes, whose bits that would corrupt, are
// restored by a blend.
func decayAVX2(c consts) {
	n, dst, x, bh, bl, mh, ml, s := decayArgs("glaDecayAVX2",
		"glaDecayAVX2 sets dst = s*x ⊙ 2^(bh - bl + glaGateFloor*(mh - ml)) for n floats, n a multiple of 8.", XMM)
	lo, hi := YMM(), YMM()
	VMOVUPD(c.lo, lo)
	VMOVUPD(c.hi, hi)
	var poly []Op
	for _, m := range c.poly {
		poly = append(poly, m)
	}
	loop("decay256", n, 3, func() {
		for g := range 2 {
			e, t, f, p := YMM(), YMM(), YMM(), YMM()
			exponent(e, t, 32*g, bh, bl, mh, ml, c.floor, lo, hi)
			VADDPD(c.round, e, t) // t = e + round: n in its low bits
			VSUBPD(c.round, t, f) // f = n
			VSUBPD(f, e, f)       // f = e - n
			horner(p, f, poly)
			VPSUBQ(c.round, t, t)
			VPSLLQ(U8(52), t, t)
			VPADDQ(t, p, p)
			VCMPPD(U8(3), e, e, t) // t = e is NaN
			VBLENDVPD(t, e, p, p)
			y := XMM()
			VCVTPD2PSY(p, y)
			scaleStore(y, s, x, dst, 16*g)
		}
	}, decayStrides(8, dst, x, bh, bl, mh, ml)...)
	end()
}

const gatesSig = "func(n int, gt *float32, pb *float64, pm *float64, b *float64, m *float64, lo *float64, hi *float64)"

// gatesArgs emits a gate kernel's header and loads its pointers and count.
func gatesArgs(name, doc string) (n, g reg.GPVirtual, f64 []reg.GPVirtual) {
	r := begin(name, gatesSig, doc, "n", "gt", "pb", "pm", "b", "m", "lo", "hi")
	return r[0], r[1], r[2:]
}

// gatesTail emits the stores of a gate row's lanes at byte offset off: b
// and m, and lo = min(lo, b), hi = max(hi, b) (a NaN b may be dropped
// there; the caller finds it in the last row, as a NaN stays in the sum).
func gatesTail(x, n, t reg.VecVirtual, off int, f64 []reg.GPVirtual) {
	b, m, lo, hi := f64[2], f64[3], f64[4], f64[5]
	VMOVUPD(x, Mem{Base: b, Disp: off})
	VMOVUPD(n, Mem{Base: m, Disp: off})
	VMOVUPD(Mem{Base: lo, Disp: off}, t)
	VMINPD(x, t, t)
	VMOVUPD(t, Mem{Base: lo, Disp: off})
	VMOVUPD(Mem{Base: hi, Disp: off}, t)
	VMAXPD(x, t, t)
	VMOVUPD(t, Mem{Base: hi, Disp: off})
}

// gatesStrides are the gate kernels' steps for step elements a pass:
// float32 gates, float64 rows.
func gatesStrides(step int, g reg.GPVirtual, f64 []reg.GPVirtual) []stride {
	st := []stride{{g, 4 * step}}
	for _, p := range f64 {
		st = append(st, stride{p, 8 * step})
	}
	return st
}

// gatesAVX512 emits one row of the cumulative log2 gates: y = g*log2(e);
// where y < glaGateFloor, m = pm + 1 and b = pb, else m = pm and b = pb + y
// (NaN takes the sum), over n gates (a multiple of 16), eight float64 lanes
// at a time under mask registers.
func gatesAVX512(c consts) {
	n, g, f64 := gatesArgs("glaGatesAVX512",
		"glaGatesAVX512 adds a row of log gates to the cumulative log2 gates pb, pm into b, m, and b into the bounds lo, hi; n a multiple of 16.")
	pb, pm := f64[0], f64[1]
	log2e, floor, one := bcast(c.log2e), bcast(c.floor), bcast(c.one)
	loop("gates512", n, 4, func() {
		for h := range 2 {
			off := 64 * h
			y, x, nn := ZMM(), ZMM(), ZMM()
			clamp, keep := K(), K()
			VCVTPS2PD(Mem{Base: g, Disp: 32 * h}, y)
			VMULPD(log2e, y, y)
			VCMPPD(U8(1), floor, y, clamp) // y < floor
			VCMPPD(U8(5), floor, y, keep)  // !(y < floor), NaN included
			VMOVUPD(Mem{Base: pb, Disp: off}, x)
			VADDPD(y, x, keep, x)
			VMOVUPD(Mem{Base: pm, Disp: off}, nn)
			VADDPD(one, nn, clamp, nn)
			gatesTail(x, nn, y, off, f64)
		}
	}, gatesStrides(16, g, f64)...)
	end()
}

// gatesAVX2 is gatesAVX512 in four float64 lanes with the comparison as a
// lane mask: b = pb + (y AND NOT clamp), m = pm + (1 AND clamp); n a
// multiple of 8.
func gatesAVX2(c consts) {
	n, g, f64 := gatesArgs("glaGatesAVX2",
		"glaGatesAVX2 adds a row of log gates to the cumulative log2 gates pb, pm into b, m, and b into the bounds lo, hi; n a multiple of 8.")
	pb, pm := f64[0], f64[1]
	loop("gates256", n, 3, func() {
		for h := range 2 {
			off := 32 * h
			y, cl, x, nn := YMM(), YMM(), YMM(), YMM()
			VCVTPS2PD(Mem{Base: g, Disp: 16 * h}, y)
			VMULPD(c.log2e, y, y)
			VCMPPD(U8(1), c.floor, y, cl) // y < floor
			VANDNPD(y, cl, x)             // y where not clamped
			VADDPD(Mem{Base: pb, Disp: off}, x, x)
			VANDPD(c.one, cl, cl)
			VADDPD(Mem{Base: pm, Disp: off}, cl, nn)
			gatesTail(x, nn, y, off, f64)
		}
	}, gatesStrides(8, g, f64)...)
	end()
}

// vecKernel emits an elementwise kernel over n floats (a multiple of the
// vector width): its arguments are n and then the pointers ptrs, each
// advanced a vector a pass; setup (nil: none) runs before the loop, body
// computes a vector at the pointers.
func vecKernel(s isa, name, sig, doc string, ptrs []string, setup func(), body func(p []reg.GPVirtual)) {
	r := begin(name, sig, doc, append([]string{"n"}, ptrs...)...)
	if setup != nil {
		setup()
	}
	var st []stride
	for _, p := range r[1:] {
		st = append(st, stride{p, s.bytes})
	}
	loop(name, r[0], s.shift(), func() { body(r[1:]) }, st...)
	end()
}

// mulKernel emits dst = x ⊙ y (dst may be x or y).
func mulKernel(s isa) {
	name := "glaMul" + s.name
	vecKernel(s, name, "func(n int, dst *float32, x *float32, y *float32)",
		name+" sets dst = x ⊙ y for n floats, n a multiple of the vector width.",
		[]string{"dst", "x", "y"}, nil, func(p []reg.GPVirtual) {
			v := s.vec()
			VMOVUPS(Mem{Base: p[1]}, v)
			VMULPS(Mem{Base: p[2]}, v, v)
			VMOVUPS(v, Mem{Base: p[0]})
		})
}

// scalKernel emits y *= a.
func scalKernel(s isa) {
	name := "glaScal" + s.name
	a := s.vec()
	vecKernel(s, name, "func(n int, y *float32, a float32)",
		name+" sets y *= a for n floats, n a multiple of the vector width.",
		[]string{"y"}, func() { VBROADCASTSS(Load(Param("a"), XMM()), a) }, func(p []reg.GPVirtual) {
			v := s.vec()
			VMULPS(Mem{Base: p[0]}, a, v)
			VMOVUPS(v, Mem{Base: p[0]})
		})
}

// dotKernel emits the inner product: two vectors a step into two
// accumulators, so that consecutive FMAs overlap, then an odd last vector,
// then the sum across lanes.
func dotKernel(s isa) {
	name := "glaDot" + s.name
	r := begin(name, "func(n int, x *float32, y *float32) float32",
		name+" returns the inner product of x and y over n floats, n a multiple of the vector width.", "n", "x", "y")
	n, x, y := r[0], r[1], r[2]
	a0, a1 := s.vec(), s.vec()
	for _, a := range []reg.VecVirtual{a0, a1} {
		if s.bytes == 64 {
			VPXORD(a, a, a)
		} else {
			VXORPS(a, a, a)
		}
	}
	SHRQ(U8(s.shift()), n)
	odd := GP64()
	MOVQ(n, odd)
	SHRQ(U8(1), n)
	JZ(LabelRef(name + "_odd"))
	Label(name + "_loop")
	for i, a := range []reg.VecVirtual{a0, a1} {
		v := s.vec()
		VMOVUPS(Mem{Base: x, Disp: i * s.bytes}, v)
		VFMADD231PS(Mem{Base: y, Disp: i * s.bytes}, v, a)
	}
	ADDQ(U32(2*s.bytes), x)
	ADDQ(U32(2*s.bytes), y)
	DECQ(n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_odd")
	TESTQ(U32(1), odd)
	JZ(LabelRef(name + "_sum"))
	v := s.vec()
	VMOVUPS(Mem{Base: x}, v)
	VFMADD231PS(Mem{Base: y}, v, a0)
	Label(name + "_sum")
	VADDPS(a1, a0, a0)
	h, hx := a0.AsY(), a0.AsX()
	if s.bytes == 64 {
		t := YMM()
		VEXTRACTF64X4(U8(1), a0, t)
		VADDPS(t, a0.AsY(), t)
		h, hx = t, t.AsX()
	}
	q := XMM()
	VEXTRACTF128(U8(1), h, q)
	VADDPS(q, hx, q)
	VHADDPS(q, q, q)
	VHADDPS(q, q, q)
	VZEROUPPER()
	Store(q, ReturnIndex(0))
	RET()
}

// prefetchKernel emits a PREFETCHT0 of each 64-byte line from p on, n > 0
// bytes: the chunked form asks for the next chunk's rows while it computes
// this one (rows H*K floats apart, too far apart for the hardware
// prefetchers, which stop at page boundaries).
func prefetchKernel() {
	r := begin("glaPrefetch", "func(p *byte, n int)",
		"glaPrefetch asks the caches for the lines of the n > 0 bytes at p; it never faults.", "p", "n")
	p, last := r[0], r[1]
	ADDQ(p, last)
	Label("prefetch_loop")
	PREFETCHT0(Mem{Base: p})
	ADDQ(U32(64), p)
	CMPQ(p, last)
	JB(LabelRef("prefetch_loop"))
	RET()
}
