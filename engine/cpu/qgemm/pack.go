package qgemm

import (
	"encoding/binary"

	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/tensor"
)

// The packers read the quant formats directly (int4 codes two to a byte, the
// even k in the low nibble; int8 activation groups as bytes), four codes at a
// time where a run of four starts on a byte, since unpacking code by code
// would cost about as much as the kernel.

// PackActivations packs activation panel q of a (a.M = M, the product's K
// and group): a[g][step][i][4] = code + Bias and sa[g][i] = scale; rows past
// M and codes past a group's end are code 0 (Bias), which the zero-padded
// weights cancel.
func (p *Product) PackActivations(q int, a *quant.Activations) {
	s, mr, gb := p.Shape, p.Kernel.MR, p.Shape.groupBytes()
	m0, rows := p.Rows(q)
	dst := p.a[q*p.aLen : (q+1)*p.aLen]
	dsa := p.sa[q*s.Groups*mr : (q+1)*s.Groups*mr]
	for i := range dst {
		dst[i] = Bias
	}
	clear(dsa)
	k4, k8 := a.Widths()
	rb := (k4 + 1) / 2
	for i := range rows {
		r := m0 + i
		row4, row8 := a.Codes[r*rb:(r+1)*rb], a.Codes8[r*k8:(r+1)*k8]
		p4, p8 := 0, 0
		for g, eight := range a.Is8 {
			lo, hi := quant.GroupBounds(s.K, s.Group, g)
			d := dst[g*gb*mr+4*i:]
			if eight {
				packInt8(d, 4*mr, row8[p8:p8+hi-lo])
				p8 += hi - lo
			} else {
				packInt4Biased(d, 4*mr, row4, p4, hi-lo)
				p4 += hi - lo
			}
			dsa[g*mr+i] = a.Scales[r*s.Groups+g]
		}
	}
}

// PackWeights packs weight panel q of w (w.N = N, the product's K and
// group): b[g][step][j][4] = code, corr[g][j] = -Bias * sum_{k in g} code
// and sw[g][j] = scale; columns past N and codes past a group's end are 0.
func (p *Product) PackWeights(q int, w *quant.Weights) {
	s, nr, gb := p.Shape, p.Kernel.NR, p.Shape.groupBytes()
	n0, cols := p.Cols(q)
	dst := p.b[q*p.bLen : (q+1)*p.bLen]
	dcorr := p.corr[q*s.Groups*nr : (q+1)*s.Groups*nr]
	dsw := p.sw[q*s.Groups*nr : (q+1)*s.Groups*nr]
	clear(dst)
	clear(dcorr)
	clear(dsw)
	rb := (s.K + 1) / 2
	for j := range cols {
		c := n0 + j
		row := w.Codes[c*rb : (c+1)*rb]
		for g := range s.Groups {
			lo, hi := quant.GroupBounds(s.K, s.Group, g)
			sum := packInt4(dst[g*gb*nr+4*j:], 4*nr, row, lo, hi-lo)
			// Wraps for the longest groups, as the kernel's sums do.
			dcorr[g*nr+j] = int32(-Bias * sum)
			dsw[g*nr+j] = w.Scales[c*s.Groups+g]
		}
	}
}

// packInt8 writes codes + Bias, four to each stride of d.
func packInt8(d []byte, stride int, codes []int8) {
	c := 0
	for ; c+4 <= len(codes); c += 4 {
		v := uint32(uint8(codes[c])) | uint32(uint8(codes[c+1]))<<8 | uint32(uint8(codes[c+2]))<<16 | uint32(uint8(codes[c+3]))<<24
		binary.LittleEndian.PutUint32(d[c/4*stride:], v^0x80808080) // +128 modulo 256
	}
	for ; c < len(codes); c++ {
		d[c/4*stride+c%4] = byte(int16(codes[c]) + Bias)
	}
}

// nibbles returns the four int4 codes of bytes b0, b1 as the low nibbles of
// four bytes, in k order.
func nibbles(b0, b1 byte) uint32 {
	v := uint32(b0) | uint32(b1)<<16
	return v&0x000f000f | (v&0x00f000f0)<<4
}

// packInt4Biased writes the n int4 codes of row starting at code p, each + Bias,
// four to each stride of d.
func packInt4Biased(d []byte, stride int, row []byte, p, n int) {
	c := 0
	if p%2 == 0 {
		src := row[p/2:]
		for ; c+4 <= n; c += 4 {
			// Per byte, nibble^8 is code+8 in [0, 15]; adding 120 cannot carry.
			v := nibbles(src[c/2], src[c/2+1])
			binary.LittleEndian.PutUint32(d[c/4*stride:], (v^0x08080808)+0x78787878)
		}
	}
	for ; c < n; c++ {
		d[c/4*stride+c%4] = byte(int16(tensor.Int4At(row, p+c)) + Bias)
	}
}

// packInt4 writes the n int4 codes of row starting at code p as int8, four
// to each stride of d, and returns their sum.
func packInt4(d []byte, stride int, row []byte, p, n int) int64 {
	c, sum := 0, int64(0)
	if p%2 == 0 {
		src := row[p/2:]
		for ; c+4 <= n; c += 4 {
			v := nibbles(src[c/2], src[c/2+1])
			// Sign-extend: nibbles 8..15 take the high nibble 0xf.
			binary.LittleEndian.PutUint32(d[c/4*stride:], v|(v>>3&0x01010101)*0xf0)
			// The byte sum of nibble^8 = code+8 (<= 60, no carry) lands in the top byte.
			sum += int64((v^0x08080808)*0x01010101>>24) - 32
		}
	}
	for ; c < n; c++ {
		v := tensor.Int4At(row, p+c)
		d[c/4*stride+c%4] = byte(v)
		sum += int64(v)
	}
	return sum
}
