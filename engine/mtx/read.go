// Package mtx reads and writes sparse matrices in the Matrix Market exchange
// format (NIST, https://math.nist.gov/MatrixMarket/formats.html).
//
// Read takes the `coordinate` format with a `real`, `integer` or `pattern`
// field (pattern entries are 1.0) and `general`, `symmetric` or
// `skew-symmetric` symmetry; symmetric files are expanded on read (an
// off-diagonal entry (i,j) also gives (j,i), negated for skew-symmetric).
// Write emits `coordinate real general` with %.17g values, so a float64
// matrix reads back bit for bit.
package mtx

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"unsafe"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/sparse"
)

const op = "mtx"

// DefaultMaxBytes bounds the memory Read may allocate when Options sets no
// limit: 8 GiB, as for SpGEMM.
const DefaultMaxBytes = sparse.DefaultMaxSpGEMMBytes

// maxLine bounds one line; a longer one is malformed.
const maxLine = 1 << 20

// prealloc bounds the entries allocated from the header's count before they
// are read, so that a header claiming 10^12 entries allocates nothing large.
const prealloc = 1 << 16

// Options tune ReadWith.
type Options struct {
	// MaxBytes bounds the memory the matrix needs while it is read and
	// built, counted as its coordinates plus the CSR arrays (slices grown
	// by append may hold up to twice that); 0 means DefaultMaxBytes.
	MaxBytes int64
}

// Read reads a Matrix Market file into a float64 CSR matrix whose rows keep
// the file's order (expanded symmetric entries follow their mirror).
func Read(r io.Reader) (*sparse.CSR[float64], error) {
	return ReadWith[float64](r, Options{})
}

// Read32 is Read into float32 (each value rounded once from its decimal).
func Read32(r io.Reader) (*sparse.CSR[float32], error) {
	return ReadWith[float32](r, Options{})
}

// ReadFile reads the Matrix Market file at path into float64.
func ReadFile(path string) (*sparse.CSR[float64], error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &errs.Error{Kind: errs.ErrArgument, Op: op, Msg: "cannot open the file", Err: err}
	}
	defer f.Close()
	m, err := Read(f)
	if err != nil {
		return nil, wrapPath(err, path)
	}
	return m, nil
}

// ReadWith reads a Matrix Market file into a CSR matrix of values T. A
// malformed file fails with errs.ErrFormat (the message names the line), one
// needing more than opt.MaxBytes with errs.ErrLimit.
func ReadWith[T sparse.Float](r io.Reader, opt Options) (*sparse.CSR[T], error) {
	if opt.MaxBytes < 0 {
		return nil, errs.Argument(op, "memory limit must be >= 0, got %d", opt.MaxBytes)
	}
	if opt.MaxBytes == 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	p := &parser[T]{sc: bufio.NewScanner(r), limit: opt.MaxBytes}
	p.sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	if err := p.header(); err != nil {
		return nil, err
	}
	if err := p.size(); err != nil {
		return nil, err
	}
	if err := p.entries(); err != nil {
		return nil, err
	}
	return sparse.FromCOO(p.rows, p.cols, p.ri, p.ci, p.v)
}

type field int

const (
	fieldReal field = iota
	fieldInteger
	fieldPattern
)

type symmetry int

const (
	general symmetry = iota
	symmetric
	skewSymmetric
)

type parser[T sparse.Float] struct {
	sc    *bufio.Scanner
	line  int
	limit int64

	field      field
	sym        symmetry
	rows, cols int
	nnz        int64 // entries the header announces
	maxStored  int64 // entries (after expansion) that fit the memory limit
	ri, ci     []int32
	v          []T
}

func (p *parser[T]) errorf(format string, args ...any) error {
	return errs.Format(op, nil, "line %d: "+format, append([]any{p.line}, args...)...)
}

// next returns the next line, or ok == false at the end of the input.
func (p *parser[T]) next() ([]byte, bool, error) {
	if !p.sc.Scan() {
		if err := p.sc.Err(); err != nil {
			if err == bufio.ErrTooLong {
				return nil, false, errs.Format(op, nil, "line %d: longer than %d bytes", p.line+1, maxLine)
			}
			return nil, false, errs.Format(op, err, "line %d: read failed", p.line+1)
		}
		return nil, false, nil
	}
	p.line++
	return p.sc.Bytes(), true, nil
}

// content returns the next line that is neither blank nor a comment.
func (p *parser[T]) content() ([]byte, bool, error) {
	for {
		b, ok, err := p.next()
		if !ok || err != nil {
			return nil, ok, err
		}
		b = bytes.TrimSpace(b)
		if len(b) > 0 && b[0] != '%' {
			return b, true, nil
		}
	}
}

// header parses the banner: %%MatrixMarket matrix coordinate <field> <symmetry>.
// Its words are case-insensitive, as in NIST's mmio.c.
func (p *parser[T]) header() error {
	b, ok, err := p.next()
	if err != nil {
		return err
	}
	if !ok {
		return errs.Format(op, nil, "line 1: empty file, want a %%%%MatrixMarket header")
	}
	w := bytes.Fields(bytes.ToLower(b))
	if len(w) == 0 || string(w[0]) != "%%matrixmarket" {
		return p.errorf("want a %%%%MatrixMarket header")
	}
	if len(w) != 5 {
		return p.errorf("header has %d words, want 5: %%%%MatrixMarket matrix coordinate <field> <symmetry>", len(w))
	}
	if string(w[1]) != "matrix" {
		return p.errorf("object %q not supported, want matrix", truncate(w[1]))
	}
	switch string(w[2]) {
	case "coordinate":
	case "array":
		return p.errorf("array (dense) format not supported, want coordinate")
	default:
		return p.errorf("unknown format %q, want coordinate", truncate(w[2]))
	}
	switch string(w[3]) {
	case "real":
		p.field = fieldReal
	case "integer":
		p.field = fieldInteger
	case "pattern":
		p.field = fieldPattern
	case "complex":
		return p.errorf("complex matrices not supported")
	default:
		return p.errorf("unknown field %q, want real, integer or pattern", truncate(w[3]))
	}
	switch string(w[4]) {
	case "general":
		p.sym = general
	case "symmetric":
		p.sym = symmetric
	case "skew-symmetric":
		p.sym = skewSymmetric
	case "hermitian":
		return p.errorf("hermitian matrices not supported")
	default:
		return p.errorf("unknown symmetry %q, want general, symmetric or skew-symmetric", truncate(w[4]))
	}
	if p.field == fieldPattern && p.sym == skewSymmetric {
		return p.errorf("a pattern matrix cannot be skew-symmetric")
	}
	return nil
}

// size parses "rows cols entries" and sets the memory bound on entries.
func (p *parser[T]) size() error {
	b, ok, err := p.content()
	if err != nil {
		return err
	}
	if !ok {
		return errs.Format(op, nil, "line %d: file ends before the size line", p.line)
	}
	w := bytes.Fields(b)
	if len(w) != 3 {
		return p.errorf("size line has %d numbers, want 3: rows cols entries", len(w))
	}
	var n [3]int64
	for t, s := range w {
		x, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || x < 0 {
			return p.errorf("size %q is not a non-negative integer", truncate(s))
		}
		n[t] = x
	}
	if n[0] > sparse.MaxDim || n[1] > sparse.MaxDim {
		return p.errorf("dimensions %dx%d exceed 2^31-1", n[0], n[1])
	}
	p.rows, p.cols, p.nnz = int(n[0]), int(n[1]), n[2]
	if p.sym != general && p.rows != p.cols {
		return p.errorf("a symmetric matrix must be square, got %dx%d", p.rows, p.cols)
	}
	// The matrix needs, at its peak in FromCOO, the coordinates (two int32
	// and a value per entry) and the CSR (row pointers, an int32 and a value
	// per entry, and FromCOO's row cursor).
	var zero T
	entry := 2*4 + int64(unsafe.Sizeof(zero)) + 4 + int64(unsafe.Sizeof(zero))
	fixed := (int64(p.rows) + 1) * 16
	if fixed > p.limit {
		return errs.Limit(op, "%dx%d matrix needs %d bytes of row pointers, over the limit of %d bytes", p.rows, p.cols, fixed, p.limit)
	}
	p.maxStored = (p.limit - fixed) / entry
	c := min(p.nnz, prealloc, p.maxStored)
	p.ri, p.ci, p.v = make([]int32, 0, c), make([]int32, 0, c), make([]T, 0, c)
	return nil
}

// entries reads exactly nnz entry lines.
func (p *parser[T]) entries() error {
	want := 3
	if p.field == fieldPattern {
		want = 2
	}
	var w [4][]byte
	for read := int64(0); read < p.nnz; read++ {
		b, ok, err := p.content()
		if err != nil {
			return err
		}
		if !ok {
			return errs.Format(op, nil, "line %d: file ends after %d of %d entries", p.line, read, p.nnz)
		}
		n := fields(b, w[:])
		if n != want {
			return p.errorf("entry has %d fields, want %d", n, want)
		}
		i, err1 := p.index(w[0], p.rows, "row")
		j, err2 := p.index(w[1], p.cols, "column")
		if err1 != nil {
			return err1
		}
		if err2 != nil {
			return err2
		}
		v := 1.0
		if want == 3 {
			if v, err = p.value(w[2]); err != nil {
				return err
			}
		}
		if err := p.add(i, j, v); err != nil {
			return err
		}
	}
	if b, ok, err := p.content(); err != nil {
		return err
	} else if ok {
		return p.errorf("more than the %d entries the header announces: %q", p.nnz, truncate(b))
	}
	return nil
}

// add stores entry (i, j) and its mirror.
func (p *parser[T]) add(i, j int32, v float64) error {
	mirror := p.sym != general && i != j
	if p.sym == skewSymmetric && i == j && v != 0 {
		return p.errorf("skew-symmetric matrix has a nonzero diagonal entry (%d, %d)", i+1, j+1)
	}
	need := int64(len(p.v)) + 1
	if mirror {
		need++
	}
	if need > p.maxStored {
		return errs.Limit(op, "line %d: %dx%d matrix with %d entries needs more than the limit of %d bytes", p.line, p.rows, p.cols, p.nnz, p.limit)
	}
	p.ri, p.ci, p.v = append(p.ri, i), append(p.ci, j), append(p.v, T(v))
	if mirror {
		if p.sym == skewSymmetric {
			v = -v
		}
		p.ri, p.ci, p.v = append(p.ri, j), append(p.ci, i), append(p.v, T(v))
	}
	return nil
}

// index parses a 1-based index in [1, n] and returns it 0-based.
func (p *parser[T]) index(s []byte, n int, what string) (int32, error) {
	x, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, p.errorf("%s index %q is not an integer", what, truncate(s))
	}
	if x < 1 || x > int64(n) {
		return 0, p.errorf("%s index %d out of range [1, %d]", what, x, n)
	}
	return int32(x - 1), nil
}

// value parses a real (Inf and NaN included, as strconv spells them) or an
// integer value. The float32 reader rounds the decimal once, directly.
func (p *parser[T]) value(s []byte) (float64, error) {
	if p.field == fieldInteger {
		x, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, p.errorf("value %q is not a 64-bit integer", truncate(s))
		}
		return float64(x), nil
	}
	var zero T
	x, err := strconv.ParseFloat(string(s), int(unsafe.Sizeof(zero))*8)
	if err != nil && !isRange(err) {
		return 0, p.errorf("value %q is not a real number", truncate(s))
	}
	// Out of range values round to ±Inf or 0, as C's strtod does.
	return x, nil
}

func isRange(err error) bool {
	return errors.Is(err, strconv.ErrRange)
}

// fields splits b at spaces and tabs into w and returns how many fields b
// has (which may exceed len(w)), without allocating.
func fields(b []byte, w [][]byte) int {
	n := 0
	for len(b) > 0 {
		for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
			b = b[1:]
		}
		if len(b) == 0 {
			break
		}
		e := 0
		for e < len(b) && b[e] != ' ' && b[e] != '\t' {
			e++
		}
		if n < len(w) {
			w[n] = b[:e]
		}
		n++
		b = b[e:]
	}
	return n
}

// truncate keeps error messages one short line.
func truncate(b []byte) string {
	const n = 40
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// wrapPath names the file in a reading error's operation.
func wrapPath(err error, path string) error {
	var e *errs.Error
	if errors.As(err, &e) {
		c := *e
		c.Op = op + " " + path
		return &c
	}
	return err
}
