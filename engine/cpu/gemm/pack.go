package gemm

// packA copies A[ic:ic+mcb, pc:pc+kcb] into panels of mr rows, k-major within
// a panel (mr values per k), zero-padding the last panel. Each layout has
// its loop order: the source is read along its contiguous direction.
func packA(a Matrix, ic, mcb, pc, kcb, mr int, dst []float32) {
	rs, cs := a.strides()
	for ir := 0; ir < mcb; ir += mr {
		rows := min(mr, mcb-ir)
		d := dst[ir*kcb : ir*kcb+mr*kcb]
		base := (ic+ir)*rs + pc*cs
		switch {
		case rs == 1 && rows == mr:
			// Columns of A are contiguous: one copy per k.
			copyRows(d, mr, a.Data[base:], cs, kcb, mr)
		case cs == 1:
			// Rows of A are contiguous: read each row once, write with stride mr.
			for i := range rows {
				src := a.Data[base+i*rs : base+i*rs+kcb]
				for p, v := range src {
					d[p*mr+i] = v
				}
			}
			zeroPad(d, rows, mr, kcb)
		default:
			for p := range kcb {
				o := base + p*cs
				for i := range rows {
					d[p*mr+i] = a.Data[o+i*rs]
				}
			}
			zeroPad(d, rows, mr, kcb)
		}
	}
}

// packB copies B[pc:pc+kcb, jc:jc+ncb] into panels of nr columns, k-major
// within a panel (nr values per k), zero-padding the last panel.
func packB(b Matrix, pc, kcb, jc, ncb, nr int, dst []float32) {
	rs, cs := b.strides()
	for jr := 0; jr < ncb; jr += nr {
		cols := min(nr, ncb-jr)
		d := dst[jr*kcb : jr*kcb+nr*kcb]
		base := pc*rs + (jc+jr)*cs
		switch {
		case cs == 1 && cols == nr:
			copyRows(d, nr, b.Data[base:], rs, kcb, nr)
		case rs == 1:
			// Columns of B are contiguous (B is stored transposed).
			for j := range cols {
				src := b.Data[base+j*cs : base+j*cs+kcb]
				for p, v := range src {
					d[p*nr+j] = v
				}
			}
			zeroPad(d, cols, nr, kcb)
		default:
			for p := range kcb {
				o := base + p*rs
				for j := range cols {
					d[p*nr+j] = b.Data[o+j*cs]
				}
			}
			zeroPad(d, cols, nr, kcb)
		}
	}
}

// zeroPad clears lanes [used, w) of each of the kc groups of w in a panel:
// the padding of an edge panel, which the micro-kernel multiplies by.
func zeroPad(d []float32, used, w, kc int) {
	if used == w {
		return
	}
	for p := range kc {
		clear(d[p*w+used : p*w+w])
	}
}

// copyRows copies rows runs of w floats, src row stride ss, to dst row
// stride ds. The usual widths are fixed-size array copies through a local,
// which compile to a few vector moves where copy (or a direct array
// assignment, which may overlap) calls memmove for each short run.
func copyRows(dst []float32, ds int, src []float32, ss, rows, w int) {
	switch w {
	case 32:
		for p := range rows {
			s, d := src[p*ss:], dst[p*ds:]
			lo, hi := *(*[16]float32)(s), *(*[16]float32)(s[16:])
			*(*[16]float32)(d), *(*[16]float32)(d[16:]) = lo, hi
		}
	case 16:
		for p := range rows {
			t := *(*[16]float32)(src[p*ss:])
			*(*[16]float32)(dst[p*ds:]) = t
		}
	case 12:
		for p := range rows {
			t := *(*[12]float32)(src[p*ss:])
			*(*[12]float32)(dst[p*ds:]) = t
		}
	case 8:
		for p := range rows {
			t := *(*[8]float32)(src[p*ss:])
			*(*[8]float32)(dst[p*ds:]) = t
		}
	default:
		for p := range rows {
			copy(dst[p*ds:p*ds+w], src[p*ss:p*ss+w])
		}
	}
}
