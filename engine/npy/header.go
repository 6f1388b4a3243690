package npy

import (
	"fmt"
	"strings"

	"github.com/matmix/matmix/engine/errs"
)

// header is the dictionary at the start of a .npy file.
type header struct {
	descr   string // e.g. "<f4"
	fortran bool
	shape   []int
}

// maxDims bounds the rank a header may claim; NumPy's own limit is 64
// (NPY_MAXDIMS in NumPy 2).
const maxDims = 64

// parseHeader parses the Python dictionary literal of a header, e.g.
//
//	{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//
// followed by padding spaces and a newline. Only what NumPy's own reader
// accepts is accepted: exactly the three keys, a string descr (a list means a
// structured dtype, reported as unsupported), True/False and a tuple of
// non-negative integers (Python 2 files may write them with an L suffix).
func parseHeader(s string) (header, error) {
	p := parser{s: s}
	var h header
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return h, p.fail("header does not start with '{'")
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, err
		}
		if seen[key] {
			return h, p.fail("key %q appears twice", key)
		}
		seen[key] = true
		p.space()
		if !p.eat(':') {
			return h, p.fail("missing ':' after key %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if p.peek() == '[' {
				return h, errs.DType(opRead, "structured dtypes are not supported (want a plain float or int dtype)")
			}
			if h.descr, err = p.str(); err != nil {
				return h, err
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				h.fortran = true
			case p.word("False"):
				h.fortran = false
			default:
				return h, p.fail("fortran_order is not True or False")
			}
		case "shape":
			if h.shape, err = p.tuple(); err != nil {
				return h, err
			}
		default:
			return h, p.fail("unexpected key %q (want descr, fortran_order and shape)", key)
		}
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat('}') {
			return h, p.fail("expected ',' or '}'")
		}
		break
	}
	if strings.TrimRight(p.s[p.i:], " \t\r\n\x00") != "" {
		return h, p.fail("unexpected text after the dictionary")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, errs.Format(opRead, nil, "header lacks the key %q", k)
		}
	}
	return h, nil
}

// parser scans a header string; every failure is an errs.Format error
// naming the position, so that malformed files give one clear line.
type parser struct {
	s string
	i int
}

func (p *parser) fail(format string, args ...any) error {
	near := p.s[p.i:]
	if len(near) > 20 {
		near = near[:20] + "..."
	}
	return errs.Format(opRead, nil, "bad header at byte %d near %q: %s", p.i, near, fmt.Sprintf(format, args...))
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) eat(c byte) bool {
	if p.peek() == c && p.i < len(p.s) {
		p.i++
		return true
	}
	return false
}

func (p *parser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *parser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

// str reads a quoted string without escapes (no header value needs one).
func (p *parser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.fail("expected a quoted string")
	}
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", p.fail("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", p.fail("escapes in strings are not supported")
	}
	p.i += end + 2
	return v, nil
}

// tuple reads "()", "(3,)" or "(3, 4)" with an optional trailing comma.
func (p *parser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, p.fail("shape is not a tuple")
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		d, err := p.dim()
		if err != nil {
			return nil, err
		}
		if len(shape) == maxDims {
			return nil, p.fail("shape has more than %d dimensions", maxDims)
		}
		shape = append(shape, d)
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat(')') {
			if len(shape) == 1 {
				// Python writes a 1-tuple as (n,); (n) is an int, not a shape.
				return nil, p.fail("one-element shape without its comma")
			}
			return shape, nil
		}
		return nil, p.fail("expected ',' or ')' in shape")
	}
}

// dim reads a non-negative decimal integer, refusing values beyond the
// largest tensor rather than overflowing.
func (p *parser) dim() (int, error) {
	if p.peek() == '-' {
		return 0, p.fail("negative dimension")
	}
	start := p.i
	d := 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		d = d*10 + int(p.s[p.i]-'0')
		p.i++
		if d > maxDim {
			return 0, p.fail("dimension larger than %d", maxDim)
		}
	}
	if p.i == start {
		return 0, p.fail("expected a dimension")
	}
	p.eat('L')
	return d, nil
}
