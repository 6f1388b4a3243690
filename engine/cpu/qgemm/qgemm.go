// Package qgemm holds the SIMD micro-kernels of the CPU backend's W4A4 GEMM:
// the group-scaled int8 product
//
//	y[m,n] = sum_g sa[m,g] * sw[n,g] * I[m,n,g],  I = sum_{k in g} a[m,k] * b[n,k]
//
// with activation codes a in [-127, 127], weight codes b in [-7, 7] and
// every group sum I exact in int32. On amd64 the kernels are Go assembly
// generated with avo (engine/cpu/qgemm/_asm): an AVX-512 VNNI 6x32 tile
// (VPDPBUSD) and an AVX2 4x16 tile (VPMADDUBSW, VPMADDWD), chosen at run
// time from the CPU's features. There is no portable kernel here: under the
// `purego` build tag or on other CPUs Kernels is empty and the caller runs
// its own Go code.
//
// VPDPBUSD and VPMADDUBSW multiply unsigned bytes by signed ones, so the
// activations are packed as a+Bias (in [1, 255]) and each group's sum starts
// at -Bias * sum_{k in g} b[n,k], precomputed per weight column and group
// when the weights are packed (oneDNN and FBGEMM call this the zero-point
// compensation). The sums wrap in int32 (VPDPBUSD does not saturate), so
// the result is exact modulo 2^32 and therefore exact whenever |I| < 2^31,
// which the engine's operand checks guarantee.
package qgemm

import (
	"unsafe"

	"github.com/matmix/matmix/engine/quant"
)

// Bias is added to the activation codes to make them unsigned bytes.
const Bias = 128

// Kernel is one register-blocked tile shape and its code: it computes an
// MR x NR tile of y from a panel of MR packed activation rows and a panel of
// NR packed weight columns.
type Kernel struct {
	Name   string
	MR, NR int
	fn     kernelFunc
}

// kernelFunc computes a tile over groups groups of steps runs of four codes
// each and stores it at c (row stride ldc floats).
type kernelFunc func(groups, steps int, a *byte, sa *float32, b *byte, corr *int32, sw *float32, c *float32, ldc int)

// Kernels returns the kernels this CPU runs, fastest first; none under the
// purego build tag or on other architectures.
func Kernels() []Kernel { return kernels }

// Best returns the fastest kernel this CPU runs, if any.
func Best() (Kernel, bool) {
	if len(kernels) == 0 {
		return Kernel{}, false
	}
	return kernels[0], true
}

// Shape is a product's group structure along K: Groups groups of Group
// columns (the last may be shorter), each packed as Steps runs of four codes
// (VPDPBUSD's four products per int32 lane), the tail zero-padded.
type Shape struct {
	K, Group, Groups, Steps int
}

// NewShape returns the shape of K columns in groups of group (> 0).
func NewShape(k, group int) Shape {
	return Shape{K: k, Group: group, Groups: quant.Groups(k, group), Steps: (min(group, k) + 3) / 4}
}

// groupBytes is the packed length of one group of one row or column.
func (s Shape) groupBytes() int { return 4 * s.Steps }

// Product is an M x N product whose operands are packed in panels for one
// kernel: MPanels panels of MR activation rows and NPanels panels of NR
// weight columns. Panels are packed and tiles computed independently, so
// that callers may split both over goroutines (distinct panels, distinct
// tiles).
type Product struct {
	Kernel Kernel
	Shape  Shape
	M, N   int

	aLen, bLen int // bytes per panel
	a, b       []byte
	sa         []float32 // Groups*MR per activation panel
	corr       []int32   // Groups*NR per weight panel
	sw         []float32 // Groups*NR per weight panel
}

// NewProduct allocates the panels of an m x n product of shape s.
func (kn Kernel) NewProduct(s Shape, m, n int) *Product {
	p := &Product{Kernel: kn, Shape: s, M: m, N: n}
	p.aLen = s.Groups * s.groupBytes() * kn.MR
	p.bLen = s.Groups * s.groupBytes() * kn.NR
	mp, np := p.MPanels(), p.NPanels()
	p.a, p.sa = make([]byte, mp*p.aLen), make([]float32, mp*s.Groups*kn.MR)
	p.b, p.corr, p.sw = make([]byte, np*p.bLen), make([]int32, np*s.Groups*kn.NR), make([]float32, np*s.Groups*kn.NR)
	return p
}

// MPanels is the number of activation panels, ceil(M/MR).
func (p *Product) MPanels() int { return (p.M + p.Kernel.MR - 1) / p.Kernel.MR }

// NPanels is the number of weight panels, ceil(N/NR).
func (p *Product) NPanels() int { return (p.N + p.Kernel.NR - 1) / p.Kernel.NR }

// PanelBytes returns the packed code bytes of one activation panel and of
// one weight panel, for callers that size cache blocks.
func (p *Product) PanelBytes() (a, b int) { return p.aLen, p.bLen }

// Rows returns the first row of activation panel q and how many rows it has.
func (p *Product) Rows(q int) (m0, rows int) {
	m0 = q * p.Kernel.MR
	return m0, min(p.Kernel.MR, p.M-m0)
}

// Cols returns the first column of weight panel q and how many it has.
func (p *Product) Cols(q int) (n0, cols int) {
	n0 = q * p.Kernel.NR
	return n0, min(p.Kernel.NR, p.N-n0)
}

// Tile computes the tile of activation panel qm and weight panel qn,
// y[m][n] = sum_g sa[m,g] * sw[n,g] * I[m,n,g], and stores its valid part
// in y (M x N, row stride ldy >= N). Each group's float32 term is added in group
// order, so an element's value does not depend on its tile or on the split.
func (p *Product) Tile(qm, qn int, y []float32, ldy int) {
	kn, s := p.Kernel, p.Shape
	if ldy < p.N {
		panic("qgemm: output row stride shorter than N")
	}
	m0, rows := p.Rows(qm)
	n0, cols := p.Cols(qn)
	c, ldc := y[m0*ldy+n0:], ldy
	partial := rows < kn.MR || cols < kn.NR
	if partial {
		// Edge tiles only: the kernel writes whole tiles.
		c, ldc = make([]float32, kn.MR*kn.NR), kn.NR
	}
	c = c[:(kn.MR-1)*ldc+kn.NR] // what the kernel writes
	if s.Groups == 0 {
		for i := range kn.MR {
			clear(c[i*ldc : i*ldc+kn.NR])
		}
	} else {
		ga, gb := s.Groups*kn.MR, s.Groups*kn.NR
		a, sa := p.a[qm*p.aLen:(qm+1)*p.aLen], p.sa[qm*ga:(qm+1)*ga]
		b, corr, sw := p.b[qn*p.bLen:(qn+1)*p.bLen], p.corr[qn*gb:(qn+1)*gb], p.sw[qn*gb:(qn+1)*gb]
		kn.fn(s.Groups, s.Steps, unsafe.SliceData(a), unsafe.SliceData(sa), unsafe.SliceData(b),
			unsafe.SliceData(corr), unsafe.SliceData(sw), unsafe.SliceData(c), ldc)
	}
	if partial {
		for i := range rows {
			copy(y[(m0+i)*ldy+n0:][:cols], c[i*ldc:][:cols])
		}
	}
}
