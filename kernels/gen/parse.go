package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// signaturePrefix starts every kernel signature line (the contract of
// kernels/: one signature per line, plain C types).
const signaturePrefix = `extern "C" __global__ void`

// Kernel is one parsed kernel signature.
type Kernel struct {
	Name   string  // the extern "C" name, e.g. monarch_fwd_f32
	File   string  // the source, relative to the root, e.g. kernels/monarch.cu
	Line   int     // 1-based line of the signature
	Params []Param // in order
	Text   string  // the signature as declared, up to the closing parenthesis
}

// Param is one kernel parameter.
type Param struct {
	Name  string // as in the source
	CType string // the C type without __restrict__, e.g. "const float*"
	Kind  Kind
}

// Kind is how a parameter crosses from Go.
type Kind int

const (
	KindPtr Kind = iota
	KindInt32
	KindUint32
	KindInt64
	KindFloat32
	KindFloat64
)

// ParseDir parses every kernels/*.cu under root, sorted by file name.
func ParseDir(root string) ([]Kernel, error) {
	files, err := filepath.Glob(filepath.Join(root, "kernels", "*.cu"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var all []Kernel
	seen := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel := "kernels/" + filepath.Base(f)
		ks, err := ParseSource(rel, string(src))
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			if prev, dup := seen[k.Name]; dup {
				return nil, fmt.Errorf("%s:%d: kernel %s is also declared in %s", k.File, k.Line, k.Name, prev)
			}
			seen[k.Name] = k.File
		}
		all = append(all, ks...)
	}
	return all, nil
}

// ParseSource finds the kernel signatures of one source file.
func ParseSource(file, src string) ([]Kernel, error) {
	var out []Kernel
	for i, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, signaturePrefix) {
			continue
		}
		k, err := parseSignature(t[len(signaturePrefix):])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, i+1, err)
		}
		k.File, k.Line = file, i+1
		out = append(out, k)
	}
	return out, nil
}

// parseSignature parses "[__launch_bounds__(...)] name(params)" (the rest of
// the line after the closing parenthesis is ignored).
func parseSignature(s string) (Kernel, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "__launch_bounds__") {
		end := matchingParen(s, strings.IndexByte(s, '('))
		if end < 0 {
			return Kernel{}, fmt.Errorf("unbalanced __launch_bounds__")
		}
		s = strings.TrimSpace(s[end+1:])
	}
	open := strings.IndexByte(s, '(')
	if open <= 0 {
		return Kernel{}, fmt.Errorf("want NAME(ARGS) on the signature line")
	}
	end := matchingParen(s, open)
	if end < 0 {
		return Kernel{}, fmt.Errorf("the parameter list must close on the signature line")
	}
	k := Kernel{Name: strings.TrimSpace(s[:open])}
	if !isIdent(k.Name) {
		return Kernel{}, fmt.Errorf("bad kernel name %q", k.Name)
	}
	list := strings.TrimSpace(s[open+1 : end])
	if list != "" && list != "void" {
		for _, p := range strings.Split(list, ",") {
			par, err := parseParam(p)
			if err != nil {
				return Kernel{}, fmt.Errorf("kernel %s: %w", k.Name, err)
			}
			k.Params = append(k.Params, par)
		}
	}
	k.Text = signaturePrefix + " " + k.Name + "(" + list + ")"
	return k, nil
}

func matchingParen(s string, open int) int {
	if open < 0 {
		return -1
	}
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// parseParam splits "const float* __restrict__ x" into its type and name
// and classifies the type.
func parseParam(p string) (Param, error) {
	p = strings.ReplaceAll(p, "*", " * ")
	var toks []string
	for _, t := range strings.Fields(p) {
		if t != "__restrict__" {
			toks = append(toks, t)
		}
	}
	if len(toks) < 2 || !isIdent(toks[len(toks)-1]) {
		return Param{}, fmt.Errorf("parameter %q: want TYPE NAME", strings.TrimSpace(p))
	}
	name := toks[len(toks)-1]
	typ := toks[:len(toks)-1]
	ctype := strings.ReplaceAll(strings.Join(typ, " "), " *", "*")
	par := Param{Name: name, CType: ctype}
	if slices.Contains(typ, "*") {
		par.Kind = KindPtr
		return par, nil
	}
	var base []string
	for _, t := range typ {
		if t != "const" {
			base = append(base, t)
		}
	}
	switch strings.Join(base, " ") {
	case "int", "int32_t":
		par.Kind = KindInt32
	case "unsigned", "unsigned int", "uint32_t":
		par.Kind = KindUint32
	case "long long", "long long int", "int64_t":
		par.Kind = KindInt64
	case "float":
		par.Kind = KindFloat32
	case "double":
		par.Kind = KindFloat64
	default:
		return Param{}, fmt.Errorf("parameter %s: type %q is not a pointer, int, unsigned, long long, float or double", name, ctype)
	}
	return par, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
