// Package npy reads and writes NumPy .npy files as matmix tensors.
//
// Supported: format versions 1.0, 2.0 and 3.0; C (row-major) order; the
// dtypes float16 ('<f2'), float32 ('<f4'), float64 ('<f8'), int8 ('|i1'),
// int32 ('<i4') and int64 ('<i8'). Big-endian files ('>f4', ...) are read
// and byte-swapped; files are always written little endian, version 1.0
// (2.0 when the header needs it), with the header padded to 64 bytes as NumPy
// does. Fortran-order files are refused unless their layout equals C order
// (at most one dimension larger than 1), because viewing them in C order
// would silently transpose the data.
//
// The parser is this package's own rather than codeberg.org/sbinet/npyio:
// npyio's header reader (v0.14.0) slices the header at byte offsets it does
// not check, so a malformed header panics (for example one without a
// newline, or with its keys in another order), it allocates whatever header
// length a file claims, and it has no version 3.0. Here every malformed,
// truncated or unsupported file gives one errs.Format or errs.DType error,
// and a file claiming a huge shape allocates only as much as it really
// holds. The format is NEP 1 (numpy.lib.format); the tests check
// interchange with npyio in both directions.
package npy

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unsafe"

	"github.com/matmix/matmix/engine/atomicfile"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

const (
	opRead  = "npy.Read"
	opWrite = "npy.Write"
)

// magic starts every .npy file.
const magic = "\x93NUMPY"

// maxHeader bounds the header length a file may claim, so that a corrupt
// length cannot make Read allocate gigabytes. It admits every version 1.0
// header (whose length field is 16 bits); NumPy itself refuses headers over
// 10000 bytes by default (max_header_size).
const maxHeader = 1 << 16

// maxDim bounds one dimension; larger shapes are refused by
// tensor.NumElements anyway.
const maxDim = tensor.MaxElements

// align is the multiple NumPy pads the header to (numpy.lib.format.ARRAY_ALIGN).
const align = 64

// chunkBytes is how much Read allocates ahead of the data it has actually
// received when it cannot tell the stream's length.
const chunkBytes = 1 << 20

// descrType maps a descr's kind and size ("f4") to a tensor dtype.
func descrType(kindSize string) (tensor.DType, bool) {
	switch kindSize {
	case "f2":
		return tensor.Float16, true
	case "f4":
		return tensor.Float32, true
	case "f8":
		return tensor.Float64, true
	case "i1":
		return tensor.Int8, true
	case "i4":
		return tensor.Int32, true
	case "i8":
		return tensor.Int64, true
	}
	return tensor.Invalid, false
}

// Read reads one array from r, consuming exactly its bytes (so arrays saved
// one after another to the same stream can be read in turn).
func Read(r io.Reader) (*tensor.Tensor, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, errs.Format(opRead, nil, "not a .npy file: %s", short(err))
	}
	if string(pre[:6]) != magic {
		return nil, errs.Format(opRead, nil, "not a .npy file (bad magic %q)", pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen int
	switch {
	case major == 1 && minor == 0:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errs.Format(opRead, nil, "truncated header: %s", short(err))
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case (major == 2 || major == 3) && minor == 0:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errs.Format(opRead, nil, "truncated header: %s", short(err))
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > maxHeader {
			return nil, errs.Format(opRead, nil, "header length %d exceeds %d bytes", n, maxHeader)
		}
		hlen = int(n)
	default:
		return nil, errs.Format(opRead, nil, "unsupported format version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, errs.Format(opRead, nil, "truncated header (%d bytes claimed): %s", hlen, short(err))
	}
	h, err := parseHeader(string(hb))
	if err != nil {
		return nil, err
	}
	dt, swap, err := parseDescr(h.descr)
	if err != nil {
		return nil, err
	}
	n, err := tensor.NumElements(h.shape)
	if err != nil {
		return nil, errs.Format(opRead, err, "bad shape %v", h.shape)
	}
	if h.fortran && !sameInBothOrders(h.shape) {
		return nil, errs.Format(opRead, nil, "fortran-order (column-major) array of shape %v is not supported; save it in C order (numpy.ascontiguousarray)", h.shape)
	}
	avail := remaining(r)
	if need := int64(n) * int64(dt.Bits()/8); avail >= 0 && avail < need {
		return nil, errs.Format(opRead, nil, "truncated data: shape %v %v needs %d bytes, %d left", h.shape, dt, need, avail)
	}
	switch dt {
	case tensor.Float16:
		return readTensor(r, n, h.shape, swap, tensor.FromFloat16)
	case tensor.Float32:
		return readTensor(r, n, h.shape, swap, tensor.FromFloat32)
	case tensor.Float64:
		return readTensor(r, n, h.shape, swap, tensor.FromFloat64)
	case tensor.Int8:
		return readTensor(r, n, h.shape, swap, tensor.FromInt8)
	case tensor.Int32:
		return readTensor(r, n, h.shape, swap, tensor.FromInt32)
	default: // tensor.Int64, the last dtype descrType knows
		return readTensor(r, n, h.shape, swap, tensor.FromInt64)
	}
}

// parseDescr maps a descr such as "<f4" to a dtype and whether the data
// must be byte-swapped to host order.
func parseDescr(d string) (dt tensor.DType, swap bool, err error) {
	unsupported := func() (tensor.DType, bool, error) {
		return tensor.Invalid, false, errs.DType(opRead, "dtype %q is not supported (want float16, float32, float64, int8, int32 or int64: '<f2', '<f4', '<f8', '|i1', '<i4', '<i8')", d)
	}
	if len(d) < 2 {
		return unsupported()
	}
	dt, ok := descrType(d[1:])
	if !ok {
		return unsupported()
	}
	size := dt.Bits() / 8
	switch d[0] {
	case '<':
		return dt, size > 1 && !hostLittleEndian(), nil
	case '>':
		return dt, size > 1 && hostLittleEndian(), nil
	case '|':
		if size == 1 {
			return dt, false, nil
		}
	}
	// '=' (native) never appears in files NumPy writes and would depend on
	// the writer's machine.
	return unsupported()
}

// sameInBothOrders reports whether C and Fortran order lay a shape out
// identically: true when at most one dimension exceeds 1.
func sameInBothOrders(shape []int) bool {
	big := 0
	for _, d := range shape {
		if d == 0 {
			return true
		}
		if d > 1 {
			big++
		}
	}
	return big <= 1
}

// remaining returns how many bytes r still holds, or -1 when that cannot be
// told without reading.
func remaining(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }: // bytes.Reader, bytes.Buffer, strings.Reader
		return int64(v.Len())
	case *os.File:
		st, err := v.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return -1
		}
		off, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return st.Size() - off
	}
	return -1
}

// readTensor reads n elements into a new slice and views it with shape.
// The slice grows with the data actually received, so a header claiming a
// huge shape over a short stream fails without a huge allocation.
func readTensor[T any](r io.Reader, n int, shape []int, swap bool, view func([]T, ...int) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	s := make([]T, 0, min(n, chunkBytes/size))
	if avail := remaining(r); avail >= int64(n)*int64(size) {
		s = make([]T, 0, n) // the source holds it all: allocate once
	}
	for len(s) < n {
		if len(s) == cap(s) {
			s = slices.Grow(s, min(n-len(s), len(s))) // at most doubling what has arrived
		}
		m := min(cap(s), n)
		got, err := io.ReadFull(r, bytesOf(s[len(s):m]))
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			read := int64(len(s))*int64(size) + int64(got)
			return nil, errs.Format(opRead, nil, "truncated data: shape %v needs %d bytes, got %d", shape, int64(n)*int64(size), read)
		}
		if err != nil {
			return nil, errs.Format(opRead, err, "reading data")
		}
		s = s[:m]
	}
	if swap {
		swapBytes(bytesOf(s), size)
	}
	return view(s, shape...)
}

// Write writes t as a .npy file (version 1.0, little endian, C order).
func Write(w io.Writer, t *tensor.Tensor) error {
	if t == nil {
		return errs.Argument(opWrite, "nil tensor")
	}
	if !t.OnHost() {
		return errs.Argument(opWrite, "%v is on a device; copy it to the host first", t)
	}
	var data []byte
	var descr string
	switch t.DType() {
	case tensor.Float16:
		descr, data = "<f2", bytesOf(t.Float16())
	case tensor.Float32:
		descr, data = "<f4", bytesOf(t.Float32())
	case tensor.Float64:
		descr, data = "<f8", bytesOf(t.Float64())
	case tensor.Int8:
		descr, data = "|i1", bytesOf(t.Int8())
	case tensor.Int32:
		descr, data = "<i4", bytesOf(t.Int32())
	case tensor.Int64:
		descr, data = "<i8", bytesOf(t.Int64())
	default:
		return errs.DType(opWrite, "%v has no NumPy dtype (convert it to float32 or int8 first)", t.DType())
	}
	if _, err := w.Write(formatHeader(descr, t.Shape())); err != nil {
		return err
	}
	if size := t.DType().Bits() / 8; size > 1 && !hostLittleEndian() {
		return writeSwapped(w, data, size)
	}
	_, err := w.Write(data)
	return err
}

// formatHeader renders the preamble and header NumPy would write for descr
// and shape: the dictionary padded with spaces and ended by a newline so that
// the data starts at a multiple of 64 bytes.
func formatHeader(descr string, shape []int) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr)
	for i, d := range shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%d", d)
	}
	if len(shape) == 1 {
		sb.WriteByte(',')
	}
	sb.WriteString("), }")
	dict := sb.String()
	padded := func(pre int) int { return (pre + len(dict) + 1 + align - 1) / align * align }
	pre := len(magic) + 2 + 2
	if padded(pre)-pre > 0xffff {
		pre += 2 // version 2.0: a 4-byte length
	}
	total := padded(pre)
	hlen := total - pre
	out := make([]byte, 0, total)
	out = append(out, magic...)
	if pre == 10 {
		out = append(out, 1, 0)
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen))
	} else {
		out = append(out, 2, 0)
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen))
	}
	out = append(out, dict...)
	for len(out) < total-1 {
		out = append(out, ' ')
	}
	return append(out, '\n')
}

// ReadFile reads a .npy file. Unlike Read it insists the file ends with the
// array: trailing bytes mean the header's shape or dtype is wrong.
func ReadFile(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if extra := remaining(f); extra > 0 {
		return nil, fmt.Errorf("%s: %w", path, errs.Format(opRead, nil, "%d bytes after the data of the %v %v array", extra, t.DType(), t.Shape()))
	}
	return t, nil
}

// WriteFile writes t to path atomically: a failed write leaves no file (and
// an existing one unchanged).
func WriteFile(path string, t *tensor.Tensor) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, t) })
}

// bytesOf views a slice's memory as bytes, without copying.
func bytesOf[T any](s []T) []byte {
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}

func hostLittleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// swapBytes reverses the byte order of each size-byte element of b.
func swapBytes(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		e := b[i : i+size]
		for j, k := 0, size-1; j < k; j, k = j+1, k-1 {
			e[j], e[k] = e[k], e[j]
		}
	}
}

// writeSwapped writes data with each element byte-swapped (little endian on a
// big-endian host), a chunk at a time, leaving the tensor untouched.
func writeSwapped(w io.Writer, data []byte, size int) error {
	buf := make([]byte, min(len(data), chunkBytes))
	for len(data) > 0 {
		c := copy(buf, data)
		swapBytes(buf[:c], size)
		if _, err := w.Write(buf[:c]); err != nil {
			return err
		}
		data = data[c:]
	}
	return nil
}

// short renders an I/O error from reading a header ("EOF" means the file
// ended early).
func short(err error) string {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "file ends early"
	}
	return err.Error()
}
