package tensor

// PackInt4 packs codes in [-8, 7] two to a byte along rows of length cols
// (even index in the low nibble, two's complement); each row takes
// ceil(cols/2) bytes. len(codes) must be a multiple of cols.
func PackInt4(codes []int8, cols int) []byte {
	if cols == 0 {
		return nil
	}
	rows := len(codes) / cols
	rb := (cols + 1) / 2
	out := make([]byte, rows*rb)
	for r := range rows {
		row := codes[r*cols : (r+1)*cols]
		dst := out[r*rb : (r+1)*rb]
		for j, c := range row {
			dst[j/2] |= (byte(c) & 0xf) << (4 * (j & 1))
		}
	}
	return out
}

// UnpackInt4 is the inverse of PackInt4: rows*cols sign-extended codes.
func UnpackInt4(packed []byte, rows, cols int) []int8 {
	out := make([]int8, rows*cols)
	rb := (cols + 1) / 2
	for r := range rows {
		src := packed[r*rb : (r+1)*rb]
		for j := range cols {
			out[r*cols+j] = Int4At(src, j)
		}
	}
	return out
}

// Int4At returns code j of one packed row, sign-extended.
func Int4At(row []byte, j int) int8 {
	return int8(row[j/2]>>(4*(j&1))<<4) >> 4
}
