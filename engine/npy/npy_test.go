package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// randomTensor returns a tensor of dtype dt with random non-zero values.
func randomTensor(t testing.TB, dt tensor.DType, shape ...int) *tensor.Tensor {
	t.Helper()
	r := check.NewRand(t)
	n, err := tensor.NumElements(shape)
	require.NoError(t, err)
	x, err := tensor.New(dt, shape...)
	require.NoError(t, err)
	if dt.IsFloat() {
		require.NoError(t, x.SetFromFloat64(check.Uniform(r, n)))
		return x
	}
	for i := range n {
		v := int64(r.IntN(200)) - 100
		if v == 0 {
			v = 1
		}
		switch dt {
		case tensor.Int8:
			x.Int8()[i] = int8(v)
		case tensor.Int32:
			x.Int32()[i] = int32(v) * 1e7
		case tensor.Int64:
			x.Int64()[i] = v << 40
		}
	}
	return x
}

var allDTypes = []tensor.DType{tensor.Float16, tensor.Float32, tensor.Float64, tensor.Int8, tensor.Int32, tensor.Int64}

func encode(t testing.TB, x *tensor.Tensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, x))
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	shapes := [][]int{{}, {7}, {3, 5}, {2, 3, 4}, {0}, {4, 0, 2}, {1, 1, 1, 9}}
	for _, dt := range allDTypes {
		for _, shape := range shapes {
			x := randomTensor(t, dt, shape...)
			b := encode(t, x)
			require.Zero(t, (len(b)-x.Len()*dt.Bits()/8)%align, "data starts at a multiple of 64")
			// A reader that knows its length and a plain stream take different paths.
			for _, r := range []io.Reader{bytes.NewReader(b), io.MultiReader(bytes.NewReader(b))} {
				y, err := Read(r)
				require.NoError(t, err, "%v %v", dt, shape)
				require.Equal(t, dt, y.DType())
				require.Equal(t, x.Shape(), y.Shape())
				require.Equal(t, x.Data(), y.Data())
			}
		}
	}
}

// TestHeaderAsNumPyWrites pins the exact bytes numpy.save writes for a small
// float32 matrix (version 1.0, 118-byte header, data at byte 128).
func TestHeaderAsNumPyWrites(t *testing.T) {
	x, err := tensor.FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	require.NoError(t, err)
	b := encode(t, x)
	require.Len(t, b, 128+24)
	require.Equal(t, "\x93NUMPY\x01\x00\x76\x00", string(b[:10]))
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	require.Equal(t, dict+strings.Repeat(" ", 118-len(dict)-1)+"\n", string(b[10:128]))
	require.Equal(t, float32(6), math.Float32frombits(binary.LittleEndian.Uint32(b[148:])))

	v, err := tensor.FromInt8([]int8{-1, 2, -3}, 3)
	require.NoError(t, err)
	require.Contains(t, string(encode(t, v)), "{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }")
}

// TestLongHeaderUsesVersion2 checks that a header too long for version 1.0
// switches to 2.0 (no tensor has such a header: formatHeader is given a
// shape longer than any tensor's).
func TestLongHeaderUsesVersion2(t *testing.T) {
	shape := make([]int, 30000)
	for i := range shape {
		shape[i] = 1
	}
	h := formatHeader("<f4", shape)
	require.Equal(t, byte(2), h[6])
	require.Zero(t, len(h)%align)
	require.Equal(t, uint32(len(h)-12), binary.LittleEndian.Uint32(h[8:12]))
}

// TestInteropWithNpyio checks both directions against an independent
// implementation of the format.
func TestInteropWithNpyio(t *testing.T) {
	// Ours -> npyio.
	x := randomTensor(t, tensor.Float32, 13)
	var got []float32
	require.NoError(t, npy.Read(bytes.NewReader(encode(t, x)), &got))
	require.Equal(t, x.Float32(), got)

	m := randomTensor(t, tensor.Float64, 3, 4)
	var d mat.Dense
	require.NoError(t, npy.Read(bytes.NewReader(encode(t, m)), &d))
	r, c := d.Dims()
	require.Equal(t, []int{3, 4}, []int{r, c})
	require.Equal(t, m.Float64(), d.RawMatrix().Data)

	i64 := randomTensor(t, tensor.Int64, 5)
	var gi []int64
	require.NoError(t, npy.Read(bytes.NewReader(encode(t, i64)), &gi))
	require.Equal(t, i64.Int64(), gi)

	// npyio (which writes version 2.0) -> ours.
	var buf bytes.Buffer
	require.NoError(t, npy.Write(&buf, mat.NewDense(2, 3, []float64{1, -2, 3, -4, 5, -6})))
	require.Equal(t, byte(2), buf.Bytes()[6])
	y, err := Read(&buf)
	require.NoError(t, err)
	require.Equal(t, []int{2, 3}, y.Shape())
	require.Equal(t, []float64{1, -2, 3, -4, 5, -6}, y.Float64())

	buf.Reset()
	require.NoError(t, npy.Write(&buf, []int32{7, -8, 9}))
	y, err = Read(&buf)
	require.NoError(t, err)
	require.Equal(t, []int32{7, -8, 9}, y.Int32())

	buf.Reset()
	require.NoError(t, npy.Write(&buf, []int8{-7, 8}))
	y, err = Read(&buf)
	require.NoError(t, err)
	require.Equal(t, []int8{-7, 8}, y.Int8())
}

// rawFile builds a .npy file from a version, a header dictionary and data.
func rawFile(major byte, dict string, data []byte) []byte {
	b := []byte(magic)
	b = append(b, major, 0)
	h := dict + "\n"
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
	}
	return append(append(b, h...), data...)
}

func f64bytes(order binary.AppendByteOrder, v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = order.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func TestReadVariants(t *testing.T) {
	le := f64bytes(binary.LittleEndian, 1.5, -2.25, 3, 4)
	be := f64bytes(binary.BigEndian, 1.5, -2.25, 3, 4)
	want := []float64{1.5, -2.25, 3, 4}
	cases := []struct {
		name  string
		file  []byte
		shape []int
	}{
		{"version 2.0", rawFile(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", le), []int{2, 2}},
		{"version 3.0", rawFile(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", le), []int{4}},
		{"keys reordered, double quotes, no trailing comma", rawFile(1, `{"shape": (2,2), "fortran_order": False, "descr": "<f8"}`, le), []int{2, 2}},
		{"python 2 long ints", rawFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 2L), }", le), []int{2, 2}},
		{"big endian", rawFile(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (4,), }", be), []int{4}},
		{"fortran 1-D is C order", rawFile(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (4,), }", le), []int{4}},
		{"fortran row vector is C order", rawFile(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 4, 1), }", le), []int{1, 4, 1}},
		{"padding and nul bytes", rawFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }      \x00", le), []int{4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y, err := Read(bytes.NewReader(c.file))
			require.NoError(t, err)
			require.Equal(t, c.shape, y.Shape())
			require.Equal(t, want, y.Float64())
		})
	}

	b := binary.BigEndian.AppendUint32(nil, 0x01020304)
	b = binary.BigEndian.AppendUint32(b, math.MaxUint32) // -1
	y, err := Read(bytes.NewReader(rawFile(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", b)))
	require.NoError(t, err)
	require.Equal(t, []int32{0x01020304, -1}, y.Int32())

	y, err = Read(bytes.NewReader(rawFile(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", []byte{0x00, 0x3c, 0x00, 0xc0})))
	require.NoError(t, err)
	require.Equal(t, []float32{1, -2}, []float32{y.Float16()[0].Float32(), y.Float16()[1].Float32()})
}

func TestReadSequentialArrays(t *testing.T) {
	a := randomTensor(t, tensor.Float32, 3, 2)
	b := randomTensor(t, tensor.Int64, 5)
	stream := io.MultiReader(bytes.NewReader(append(encode(t, a), encode(t, b)...)))
	ga, err := Read(stream)
	require.NoError(t, err)
	gb, err := Read(stream)
	require.NoError(t, err)
	require.Equal(t, a.Float32(), ga.Float32())
	require.Equal(t, b.Int64(), gb.Int64())
	_, err = Read(stream)
	require.ErrorIs(t, err, errs.ErrFormat)
}

const okData = "\x00\x00\x80\x3f\x00\x00\x00\x40" // float32 1, 2

func TestReadErrors(t *testing.T) {
	v1 := func(dict string) []byte { return rawFile(1, dict, []byte(okData)) }
	hdr := func(descr, fortran, shape string) []byte {
		return v1("{'descr': " + descr + ", 'fortran_order': " + fortran + ", 'shape': " + shape + ", }")
	}
	good := hdr("'<f4'", "False", "(2,)")
	longLen := append([]byte(magic+"\x02\x00"), binary.LittleEndian.AppendUint32(nil, math.MaxUint32)...)
	cases := []struct {
		name string
		file []byte
		kind error
	}{
		{"empty", nil, errs.ErrFormat},
		{"short magic", []byte("\x93NUM"), errs.ErrFormat},
		{"bad magic", append([]byte("\x93NUMPX"), good[6:]...), errs.ErrFormat},
		{"version 4.0", append([]byte(magic+"\x04\x00"), good[8:]...), errs.ErrFormat},
		{"version 1.1", append([]byte(magic+"\x01\x01"), good[8:]...), errs.ErrFormat},
		{"no header length", []byte(magic + "\x01\x00\x10"), errs.ErrFormat},
		{"header cut", good[:30], errs.ErrFormat},
		{"huge header length", longLen, errs.ErrFormat},
		{"not a dict", v1("['descr', '<f4']"), errs.ErrFormat},
		{"empty dict", v1("{}"), errs.ErrFormat},
		{"missing shape", v1("{'descr': '<f4', 'fortran_order': False}"), errs.ErrFormat},
		{"extra key", v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"), errs.ErrFormat},
		{"duplicate key", v1("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"), errs.ErrFormat},
		{"unquoted key", v1("{descr: '<f4', 'fortran_order': False, 'shape': (2,)}"), errs.ErrFormat},
		{"unterminated string", v1("{'descr: '<f4, 'fortran_order': False, 'shape': (2,)}"), errs.ErrFormat},
		{"escape", v1("{'descr': '<f\\4', 'fortran_order': False, 'shape': (2,)}"), errs.ErrFormat},
		{"missing colon", v1("{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}"), errs.ErrFormat},
		{"missing comma", v1("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}"), errs.ErrFormat},
		{"unclosed dict", v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)"), errs.ErrFormat},
		{"text after dict", v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x"), errs.ErrFormat},
		{"fortran not bool", hdr("'<f4'", "0", "(2,)"), errs.ErrFormat},
		{"shape not tuple", hdr("'<f4'", "False", "[2]"), errs.ErrFormat},
		{"shape int in parens", hdr("'<f4'", "False", "(2)"), errs.ErrFormat},
		{"shape empty element", hdr("'<f4'", "False", "(,)"), errs.ErrFormat},
		{"shape unclosed", hdr("'<f4'", "False", "(2, "), errs.ErrFormat},
		{"shape junk", hdr("'<f4'", "False", "(2; 3)"), errs.ErrFormat},
		{"negative dimension", hdr("'<f4'", "False", "(-2,)"), errs.ErrFormat},
		{"dimension overflow", hdr("'<f4'", "False", "(99999999999999999999999,)"), errs.ErrFormat},
		{"too many elements", hdr("'<f4'", "False", "(1048576, 1048576, 1048576)"), errs.ErrLimit},
		{"too many dims", hdr("'<f4'", "False", "("+strings.Repeat("1, ", 65)+")"), errs.ErrFormat},
		{"fortran matrix", hdr("'<f4'", "True", "(2, 3)"), errs.ErrFormat},
		{"descr not string", hdr("4", "False", "(2,)"), errs.ErrFormat},
		{"structured", hdr("[('a', '<f4')]", "False", "(2,)"), errs.ErrDType},
		{"complex64", hdr("'<c8'", "False", "(1,)"), errs.ErrDType},
		{"object", hdr("'|O'", "False", "(1,)"), errs.ErrDType},
		{"bool", hdr("'|b1'", "False", "(2,)"), errs.ErrDType},
		{"uint32", hdr("'<u4'", "False", "(2,)"), errs.ErrDType},
		{"int16", hdr("'<i2'", "False", "(2,)"), errs.ErrDType},
		{"native order", hdr("'=f4'", "False", "(2,)"), errs.ErrDType},
		{"no order on wide type", hdr("'|f4'", "False", "(2,)"), errs.ErrDType},
		{"empty descr", hdr("''", "False", "(2,)"), errs.ErrDType},
		{"truncated data", hdr("'<f4'", "False", "(3,)"), errs.ErrFormat},
		{"huge shape, little data", hdr("'<f8'", "False", "(1099511627776,)"), errs.ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []io.Reader{bytes.NewReader(c.file), io.MultiReader(bytes.NewReader(c.file))} {
				x, err := Read(r)
				require.Error(t, err)
				require.Nil(t, x)
				assert.ErrorIs(t, err, c.kind)
				assert.NotContains(t, err.Error(), "\n")
				assert.True(t, strings.HasPrefix(err.Error(), opRead+": "), err.Error())
			}
		})
	}
	// The good file the cases derive from does read.
	_, err := Read(bytes.NewReader(good))
	require.NoError(t, err)
}

// TestHugeShapeAllocatesLittle feeds a header claiming 8 TiB over a short
// stream that cannot report its length: Read must fail having allocated
// about what the stream held, not what the header claimed.
func TestHugeShapeAllocatesLittle(t *testing.T) {
	file := rawFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }", make([]byte, 3<<20))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(io.MultiReader(bytes.NewReader(file)))
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, errs.ErrFormat)
	require.Contains(t, err.Error(), "truncated")
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20))
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	x := randomTensor(t, tensor.Float32, 4, 3)
	p := filepath.Join(dir, "x.npy")
	require.NoError(t, WriteFile(p, x))
	y, err := ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, x.Float32(), y.Float32())
	require.Equal(t, x.Shape(), y.Shape())

	_, err = ReadFile(filepath.Join(dir, "missing.npy"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	// Trailing bytes mean the header does not describe the file.
	b := append(encode(t, x), 0, 0, 0, 0)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	_, err = ReadFile(p)
	require.ErrorIs(t, err, errs.ErrFormat)
	require.Contains(t, err.Error(), p)
	require.Contains(t, err.Error(), "4 bytes after the data")

	// Truncated on disk: the size check fails before reading the data.
	require.NoError(t, os.WriteFile(p, b[:len(b)-10], 0o644))
	_, err = ReadFile(p)
	require.ErrorIs(t, err, errs.ErrFormat)
	require.Contains(t, err.Error(), "truncated")

	_, err = ReadFile(dir) // a directory
	require.Error(t, err)
}

type deviceBuf struct{}

func (deviceBuf) Device() string { return "fake:0" }
func (deviceBuf) Bytes() int64   { return 1 << 20 }

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	var buf bytes.Buffer
	require.ErrorIs(t, Write(&buf, nil), errs.ErrArgument)
	bf, err := tensor.New(tensor.BFloat16, 2)
	require.NoError(t, err)
	require.ErrorIs(t, Write(&buf, bf), errs.ErrDType)
	i4, err := tensor.New(tensor.Int4, 2, 4)
	require.NoError(t, err)
	require.ErrorIs(t, Write(&buf, i4), errs.ErrDType)
	dev, err := tensor.OnDevice(tensor.Float32, deviceBuf{}, 4)
	require.NoError(t, err)
	require.ErrorIs(t, Write(&buf, dev), errs.ErrArgument)
	require.Zero(t, buf.Len(), "nothing written for a refused tensor")

	x := randomTensor(t, tensor.Float32, 3)
	require.ErrorContains(t, Write(&failWriter{0}, x), "disk full")
	require.ErrorContains(t, Write(&failWriter{1}, x), "disk full")
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "y.npy")
	bf, err := tensor.New(tensor.BFloat16, 2)
	require.NoError(t, err)
	require.ErrorIs(t, WriteFile(p, bf), errs.ErrDType)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, ents, "a failed write leaves no file, temporary or final")

	x := randomTensor(t, tensor.Int32, 2, 2)
	require.NoError(t, WriteFile(p, x))
	require.ErrorIs(t, WriteFile(p, bf), errs.ErrDType)
	y, err := ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, x.Int32(), y.Int32(), "a failed rewrite keeps the old file")
}

func TestSwapBytes(t *testing.T) {
	b := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	swapBytes(b, 4)
	require.Equal(t, []byte{4, 3, 2, 1, 8, 7, 6, 5}, b)
	var out bytes.Buffer
	require.NoError(t, writeSwapped(&out, []byte{1, 2, 3, 4}, 2))
	require.Equal(t, []byte{2, 1, 4, 3}, out.Bytes())
}
