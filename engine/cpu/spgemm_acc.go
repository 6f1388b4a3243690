package cpu

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"

	"github.com/matmix/matmix/engine/sparse"
)

// The accumulators gather one row of C = A*B (Gustavson's row-wise product).
// Each has a symbolic form (count: the row's number of distinct columns)
// and a numeric one (fill: the sorted row). All sum a column's partial
// products in the order A's row, then B's rows, list them, so every kind
// gives the same bits; kind in spgemm_plan.go and dense below pick one.

// rowWork is the multiply-adds of the row of A with columns aCols.
func rowWork[T sparse.Float](b *sparse.CSR[T], aCols []int32) int64 {
	w := int64(0)
	for _, k := range aCols {
		w += b.RowPtr[k+1] - b.RowPtr[k]
	}
	return w
}

// bRow is row k of b.
func bRow[T sparse.Float](b *sparse.CSR[T], k int32) ([]int32, []T) {
	lo, hi := b.RowPtr[k], b.RowPtr[k+1]
	return b.ColInd[lo:hi:hi], b.Val[lo:hi:hi]
}

// count returns the number of distinct columns of row i of A*B, whose
// multiply-adds are w.
func (ws *spgemmWork[T]) count(p *spgemmPlan[T], a, b *sparse.CSR[T], i int, w int64) int64 {
	aCols := a.ColInd[a.RowPtr[i]:a.RowPtr[i+1]]
	switch k := p.kind(len(aCols), w); k {
	case kindEmpty:
		return 0
	case kindCopy:
		return w
	case kindShort:
		return ws.countShort(b, aCols)
	case kindHash:
		return ws.countHash(b, aCols, min(w, int64(p.cols)))
	default:
		if !p.dense(k, b, aCols, w) {
			return ws.countBitmap(b, aCols, w, p.cols)
		}
		if n, ok := ws.countNext(p, a, b, i, w); ok {
			return n
		}
		n := ws.countBytemap(p, b, aCols, w)
		ws.listedRow = 0
		if len(ws.pat) > 0 && p.kept(w, int(n)) {
			ws.listedRow, ws.listedAt = i+1, len(ws.pat)-int(n)
		}
		return n
	}
}

// fill writes row i of A*B, sorted, at the start of cols and vals, which
// hold at least its entries, and returns how many it wrote.
func (ws *spgemmWork[T]) fill(p *spgemmPlan[T], a, b *sparse.CSR[T], i int, cols []int32, vals []T) int {
	lo, hi := a.RowPtr[i], a.RowPtr[i+1]
	aCols, aVals := a.ColInd[lo:hi:hi], a.Val[lo:hi:hi]
	w := rowWork(b, aCols)
	switch k := p.kind(len(aCols), w); k {
	case kindEmpty:
		return 0
	case kindCopy:
		bc, bv := bRow(b, aCols[0])
		copy(cols, bc)
		av := aVals[0]
		vals = vals[:len(bv)]
		for q, v := range bv {
			vals[q] = av * v
		}
		return len(bv)
	case kindShort:
		return ws.fillShort(b, aCols, aVals, cols, vals)
	case kindHash:
		return ws.fillHash(b, aCols, aVals, min(int64(len(cols)), w), cols, vals)
	default:
		switch {
		case !p.dense(k, b, aCols, w):
			return ws.fillBitmap(b, aCols, aVals, p.cols, cols, vals)
		case p.kept(w, len(cols)):
			return ws.fillKept(p, b, aCols, aVals, cols, vals)
		}
		return ws.fillBytemap(b, aCols, aVals, p.cols, p.bCanonical, cols, vals)
	}
}

// dense chooses between the two dense accumulators for a row of kind k
// (kindBitmap or kindBytemap): true for the byte map. With sorted B rows a
// bitmap row takes the byte map too when its span, from its least to its
// greatest column (the ends of its B rows), scans in at most one load per
// product, which suits rows narrow next to C (banded matrices). Only that
// case looks at the span; a byte-map row's is found as its B rows are read
// (spanStart). A kind forced by a test stays.
func (p *spgemmPlan[T]) dense(k rowKind, b *sparse.CSR[T], aCols []int32, w int64) bool {
	if k == kindBytemap || !p.bCanonical || p.tune.force != kindEmpty {
		return k == kindBytemap
	}
	first, last := spanStart()
	for _, kk := range aCols {
		if lo, hi := b.RowPtr[kk], b.RowPtr[kk+1]; lo < hi {
			first, last = min(first, b.ColInd[lo]), max(last, b.ColInd[hi-1])
		}
	}
	return int64(last-first)/8 <= w
}

// spanStart is the empty span of columns, to widen with each one.
func spanStart() (first, last int32) { return math.MaxInt32, -1 }

// Short rows: the partial products, sorted by column with an insertion
// sort (stable, so repeats keep their order), then merged.

func (ws *spgemmWork[T]) countShort(b *sparse.CSR[T], aCols []int32) int64 {
	c := ws.cols[:0]
	for _, k := range aCols {
		bc, _ := bRow(b, k)
		c = append(c, bc...)
	}
	for t := 1; t < len(c); t++ {
		for u := t; u > 0 && c[u] < c[u-1]; u-- {
			c[u], c[u-1] = c[u-1], c[u]
		}
	}
	n := int64(0)
	for t := range c {
		if t == 0 || c[t] != c[t-1] {
			n++
		}
	}
	return n
}

func (ws *spgemmWork[T]) fillShort(b *sparse.CSR[T], aCols []int32, aVals []T, cols []int32, vals []T) int {
	pr := ws.prod[:0]
	for t, k := range aCols {
		av := aVals[t]
		bc, bv := bRow(b, k)
		for q, j := range bc {
			pr = append(pr, prod[T]{j, av * bv[q]})
		}
	}
	for t := 1; t < len(pr); t++ {
		for u := t; u > 0 && pr[u].col < pr[u-1].col; u-- {
			pr[u], pr[u-1] = pr[u-1], pr[u]
		}
	}
	n := -1
	for t, e := range pr {
		if t > 0 && e.col == cols[n] {
			vals[n] += e.v
			continue
		}
		n++
		cols[n], vals[n] = e.col, e.v
	}
	return n + 1
}

// Bitmap rows: Gustavson's sparse accumulator, a value per column of C, with
// a bitmap of the row's columns and a summary bitmap of the bitmap's nonzero
// words, so the row comes out sorted by scanning cols/4096 summary words
// plus one step per entry, instead of sorting its columns.

// countBitmap sets the row's bits and counts those that were clear, then
// clears the bitmap: by revisiting the columns when the row is short next
// to the bitmap, else by wiping it.
func (ws *spgemmWork[T]) countBitmap(b *sparse.CSR[T], aCols []int32, w int64, ncols int) int64 {
	bm := ws.bits[:(ncols+63)/64]
	n := uint64(0)
	for _, k := range aCols {
		bc, _ := bRow(b, k)
		for _, j := range bc {
			x := &bm[uint32(j)>>6]
			old := *x
			*x = old | 1<<(uint32(j)&63)
			n += ^old >> (uint32(j) & 63) & 1
		}
	}
	if w >= int64(len(bm)) {
		clear(bm)
		return int64(n)
	}
	for _, k := range aCols {
		bc, _ := bRow(b, k)
		for _, j := range bc {
			bm[uint32(j)>>6] = 0
		}
	}
	return int64(n)
}

func (ws *spgemmWork[T]) fillBitmap(b *sparse.CSR[T], aCols []int32, aVals []T, ncols int, cols []int32, vals []T) int {
	acc := ws.acc[:ncols]
	bm := ws.bits[:(ncols+63)/64]
	sm := ws.sum[:(ncols+4095)/4096]
	for t, k := range aCols {
		av := aVals[t]
		bc, bv := bRow(b, k)
		bv = bv[:len(bc)]
		for q, j := range bc {
			acc[j] += av * bv[q]
			bm[uint32(j)>>6] |= 1 << (uint32(j) & 63)
			sm[uint32(j)>>12] |= 1 << (uint32(j) >> 6 & 63)
		}
	}
	negZero := T(math.Copysign(0, -1))
	n := 0
	for s, sw := range sm {
		if sw == 0 {
			continue
		}
		sm[s] = 0
		for sw != 0 {
			wi := s<<6 | bits.TrailingZeros64(sw)
			sw &= sw - 1
			bw := bm[wi]
			bm[wi] = 0
			for bw != 0 {
				j := wi<<6 | bits.TrailingZeros64(bw)
				bw &= bw - 1
				cols[n], vals[n] = int32(j), acc[j]
				acc[j] = negZero
				n++
			}
		}
	}
	return n
}

// nested reports whether B's row aCols[t] is a subset of the next one's,
// aCols[t+1], by nest (see nestRows; nil: no row is skipped), so a count
// need not mark it. Rows of finite element matrices nest this way: the
// degrees of freedom of one node, each row one entry longer than the last
// (bcsstk16: 72% of its rows hold the row before).
func nested(nest, aCols []int32, t int) bool {
	if nest == nil || t+1 >= len(aCols) {
		return false
	}
	k, next := aCols[t], aCols[t+1]
	return next > k && next <= nest[k]
}

// Bytemap rows: the dense values, and a byte per column set to 1 by a
// plain store. Unlike a bitmap's read-modify-write, the stores do not wait
// on each other when neighbouring columns follow one another (banded
// matrices, sorted rows); the map is then read eight bytes at a time, each
// nonzero word giving its columns in order, between the row's least and
// greatest column only (first and last: the ends of each B row when B's
// rows are sorted, else tracked per product).

// countBytemap also lists the row's columns when it keeps them (p.kept).
// A nested B row is skipped, and so is its span: the next row holds it.
func (ws *spgemmWork[T]) countBytemap(p *spgemmPlan[T], b *sparse.CSR[T], aCols []int32, w int64) int64 {
	fl := ws.flag[:(p.cols+7)/8*8]
	first, last := spanStart()
	for t, k := range aCols {
		if nested(p.nest, aCols, t) {
			continue
		}
		bc, _ := bRow(b, k)
		if p.bCanonical { // the loops apart, so the common one tests nothing
			if len(bc) > 0 {
				first, last = min(first, bc[0]), max(last, bc[len(bc)-1])
			}
			for _, j := range bc {
				fl[j] = 1
			}
			continue
		}
		for _, j := range bc {
			fl[j] = 1
			first, last = min(first, j), max(last, j)
		}
	}
	fl = fl[first&^7 : last|7+1]
	n := 0
	for t := 0; t < len(fl); t += 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(fl[t:]))
	}
	if p.kept(w, n) {
		ws.list(fl, int(first&^7), n)
	} else {
		clear(fl)
	}
	return int64(n)
}

func (ws *spgemmWork[T]) fillBytemap(b *sparse.CSR[T], aCols []int32, aVals []T, ncols int, sorted bool, cols []int32, vals []T) int {
	acc := ws.acc[:ncols]
	fl := ws.flag[:(ncols+7)/8*8]
	first, last := spanStart()
	for t, k := range aCols {
		av := aVals[t]
		bc, bv := bRow(b, k)
		bv = bv[:len(bc)]
		if sorted {
			if len(bc) > 0 {
				first, last = min(first, bc[0]), max(last, bc[len(bc)-1])
			}
			for q, j := range bc {
				acc[j] += av * bv[q]
				fl[j] = 1
			}
			continue
		}
		for q, j := range bc {
			acc[j] += av * bv[q]
			fl[j] = 1
			first, last = min(first, j), max(last, j)
		}
	}
	negZero := T(math.Copysign(0, -1))
	n := 0
	for t := int(first &^ 7); t <= int(last); t += 8 {
		x := binary.LittleEndian.Uint64(fl[t:]) // byte t+u is bits 8u to 8u+7
		if x == 0 {
			continue
		}
		binary.LittleEndian.PutUint64(fl[t:], 0)
		for x != 0 {
			j := t + bits.TrailingZeros64(x)>>3
			x &= x - 1
			cols[n], vals[n] = int32(j), acc[j]
			acc[j] = negZero
			n++
		}
	}
	return n
}

// Kept patterns: a byte-map row with p.kept (at least keepRatio products
// an entry) has its columns listed, sorted, by the symbolic pass in ws.pat
// (countBytemap, list), and the numeric pass takes them from there
// (fillKept, reading the chunk's list at ws.patAt), so it only multiplies
// and adds into the dense values, then gathers them: no byte map stores,
// no scan. The lists cost 4 bytes an entry until the numeric pass ends
// (spgemm.go).

// list appends the n columns marked in fl, the byte map from column at,
// to ws.pat, and clears fl.
func (ws *spgemmWork[T]) list(fl []byte, at, n int) {
	pat := slices.Grow(ws.pat, n)
	pat = pat[:len(pat)+n]
	q := len(ws.pat)
	for t := 0; t < len(fl); t += 8 {
		x := binary.LittleEndian.Uint64(fl[t:])
		if x == 0 {
			continue
		}
		binary.LittleEndian.PutUint64(fl[t:], 0)
		for x != 0 {
			pat[q] = int32(at + t + bits.TrailingZeros64(x)>>3)
			x &= x - 1
			q++
		}
	}
	ws.pat = pat
}

// countNext counts row i of a kept byte-map row by a merge, where it can:
// when A is B, row i-1 of A a prefix of row i with one entry more, k, and
// row i-1's columns listed last in ws.pat, row i's columns are those of
// row i-1 and B's row k. The merge lists them (or drops them, when row i
// is not kept), so both passes see the same lists as from the byte map.
// In finite element matrices stored as a triangle (bcsstk16), most rows
// extend the one before this way.
func (ws *spgemmWork[T]) countNext(p *spgemmPlan[T], a, b *sparse.CSR[T], i int, w int64) (int64, bool) {
	if !p.keep || p.aPrefix == nil || i == 0 || ws.listedRow != i || !p.aPrefix[i-1] || a.RowPtr[i+1]-a.RowPtr[i] != a.RowPtr[i]-a.RowPtr[i-1]+1 {
		return 0, false
	}
	bc, _ := bRow(b, a.ColInd[a.RowPtr[i+1]-1])
	at := len(ws.pat)
	pat := slices.Grow(ws.pat, at-ws.listedAt+len(bc))
	prev := pat[ws.listedAt:at]
	out := pat[at : at+len(prev)+len(bc)]
	q, r, n := 0, 0, 0
	for q < len(prev) && r < len(bc) {
		x, y := prev[q], bc[r]
		out[n] = min(x, y)
		if x <= y {
			q++
		}
		if y <= x {
			r++
		}
		n++
	}
	n += copy(out[n:], prev[q:])
	n += copy(out[n:], bc[r:])
	if p.kept(w, n) {
		ws.pat, ws.listedRow, ws.listedAt = pat[:at+n], i+1, at
	} else {
		ws.pat, ws.listedRow = pat[:at], 0
	}
	return int64(n), true
}

// fillKept writes a row whose columns the symbolic pass kept: len(cols) of
// them, next in the chunk's list ws.kept from ws.patAt. Up to three B rows
// in a row of A, k, k+1, k+2, each a prefix of the next (p.prefix: a
// node's degrees of freedom in a finite element matrix) are added in one
// loop over the longest: a column's sum takes their products in the same
// order, so the same bits, with one load and store of the sum instead of
// one each.
func (ws *spgemmWork[T]) fillKept(p *spgemmPlan[T], b *sparse.CSR[T], aCols []int32, aVals []T, cols []int32, vals []T) int {
	acc := ws.acc[:p.cols]
	aVals = aVals[:len(aCols)]
	for t := 0; t < len(aCols); {
		k, g := aCols[t], 1
		for g < 3 && t+g < len(aCols) && p.prefix != nil && aCols[t+g] == k+int32(g) && p.prefix[k+int32(g)-1] {
			g++
		}
		switch g {
		case 1:
			av := aVals[t]
			bc, bv := bRow(b, k)
			bv = bv[:len(bc)]
			for q, j := range bc {
				acc[j] += av * bv[q]
			}
		case 2:
			addPrefix2(acc, b, k, aVals[t], aVals[t+1])
		default:
			addPrefix3(acc, b, k, aVals[t], aVals[t+1], aVals[t+2])
		}
		t += g
	}
	n := len(cols)
	copy(cols, ws.kept[ws.patAt:ws.patAt+n])
	ws.patAt += n
	vals = vals[:n]
	negZero := T(math.Copysign(0, -1))
	for t, j := range cols {
		vals[t] = acc[j]
		acc[j] = negZero
	}
	return n
}

// addPrefix2 adds a0*B[k,:] then a1*B[k+1,:] to acc, B's row k a prefix
// of row k+1.
func addPrefix2[T sparse.Float](acc []T, b *sparse.CSR[T], k int32, a0, a1 T) {
	_, v0 := bRow(b, k)
	c1, v1 := bRow(b, k+1)
	addPair(acc, c1, v0, v1, a0, a1, 0)
}

// addPrefix3 adds a0*B[k,:], a1*B[k+1,:] then a2*B[k+2,:] to acc, each
// row a prefix of the next.
func addPrefix3[T sparse.Float](acc []T, b *sparse.CSR[T], k int32, a0, a1, a2 T) {
	_, v0 := bRow(b, k)
	_, v1 := bRow(b, k+1)
	c2, v2 := bRow(b, k+2)
	c0, v10, v20 := c2[:len(v0)], v1[:len(v0)], v2[:len(v0)]
	for q, j := range c0 {
		s := acc[j]
		s += a0 * v0[q]
		s += a1 * v10[q]
		s += a2 * v20[q]
		acc[j] = s
	}
	addPair(acc, c2, v1, v2, a1, a2, len(v0))
}

// addPair adds, from entry from on, a0*v0[q] then a1*v1[q] to column c[q]
// while v0 lasts, then a1*v1[q] alone: the sum of two B rows, v0's a
// prefix of c and v1's.
func addPair[T sparse.Float](acc []T, c []int32, v0, v1 []T, a0, a1 T, from int) {
	c0, v10 := c[:len(v0)], v1[:len(v0)]
	for q := from; q < len(c0); q++ {
		j := c0[q]
		s := acc[j]
		s += a0 * v0[q]
		s += a1 * v10[q]
		acc[j] = s
	}
	v1 = v1[:len(c)]
	for q := max(from, len(v0)); q < len(c); q++ {
		acc[c[q]] += a1 * v1[q]
	}
}

// Hash rows: open addressing with linear probing over a power-of-two table
// of at least twice the row's columns, keys column+1 (0 marks a free slot),
// Fibonacci hashing (Knuth, TAOCP 6.4) as nsparse and spECK hash columns.
// The numeric pass collects the columns as they first appear, sorts them,
// and looks their sums up.

func hashStart(j int32, shift uint) uint64 { return uint64(uint32(j)) * 0x9e3779b97f4a7c15 >> shift }

func (ws *spgemmWork[T]) countHash(b *sparse.CSR[T], aCols []int32, distinct int64) int64 {
	slots := hashSlots(distinct)
	keys := ws.keys[:slots]
	mask, shift := uint64(slots-1), uint(64-bits.TrailingZeros(uint(slots)))
	n := int64(0)
	for _, k := range aCols {
		bc, _ := bRow(b, k)
		for _, j := range bc {
			key := uint32(j) + 1
			for h := hashStart(j, shift); ; h = (h + 1) & mask {
				if keys[h] == key {
					break
				}
				if keys[h] == 0 {
					keys[h] = key
					n++
					break
				}
			}
		}
	}
	clear(keys)
	return n
}

// fillHash sizes its table for at most distinct columns.
func (ws *spgemmWork[T]) fillHash(b *sparse.CSR[T], aCols []int32, aVals []T, distinct int64, cols []int32, vals []T) int {
	slots := hashSlots(distinct)
	keys, hv := ws.keys[:slots], ws.hval[:slots]
	mask, shift := uint64(slots-1), uint(64-bits.TrailingZeros(uint(slots)))
	n := 0
	for t, k := range aCols {
		av := aVals[t]
		bc, bv := bRow(b, k)
		for q, j := range bc {
			key := uint32(j) + 1
			for h := hashStart(j, shift); ; h = (h + 1) & mask {
				if keys[h] == key {
					hv[h] += av * bv[q]
					break
				}
				if keys[h] == 0 {
					keys[h], hv[h] = key, av*bv[q]
					cols[n] = j
					n++
					break
				}
			}
		}
	}
	cols = cols[:n]
	slices.Sort(cols)
	for t, j := range cols {
		key := uint32(j) + 1
		h := hashStart(j, shift)
		for keys[h] != key {
			h = (h + 1) & mask
		}
		vals[t] = hv[h]
	}
	clear(keys)
	return n
}
