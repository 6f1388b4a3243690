// Package plan reads a workload plan, a JSON file describing a mix of
// workloads (say a block of W4A4 GEMM -> GLA -> Monarch MLP at given
// sizes, repeated), generates its inputs from a seed and runs it on a
// sched.Scheduler. The schema is in docs/runtime.md.
package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// Plan is a parsed plan file.
type Plan struct {
	// Seed fixes every generated input.
	Seed uint64 `json:"seed"`
	// Repeat is how many times the whole graph runs, one repetition after
	// the other (default 1).
	Repeat int `json:"repeat"`
	// DType is the float type of the generated dense and sparse inputs:
	// "float32" (default) or "float64". W4A4 is float32 whatever it says.
	DType string `json:"dtype"`
	Nodes []Node `json:"nodes"`

	dir string // the plan file's directory: relative .mtx paths start there
	dt  tensor.DType
}

// Node is one workload: exactly one of Monarch, GLA, W4A4, SpGEMM.
type Node struct {
	Name string `json:"name"`
	// Inputs feeds inputs from earlier nodes' outputs: input -> "node.output".
	// A dense output is reshaped to the input's shape (same element count).
	Inputs map[string]string `json:"inputs,omitempty"`
	// Device and Stream place the node (default: the scheduler chooses).
	Device *int `json:"device,omitempty"`
	Stream *int `json:"stream,omitempty"`

	Monarch *MonarchSpec `json:"monarch,omitempty"`
	GLA     *GLASpec     `json:"gla,omitempty"`
	W4A4    *W4A4Spec    `json:"w4a4,omitempty"`
	SpGEMM  *SpGEMMSpec  `json:"spgemm,omitempty"`
}

// MonarchSpec is a square Monarch layer as matmix bench sizes it: x is
// (batch, n), w1 and w2 are (blocks, n/blocks, n/blocks); y is (batch, n).
type MonarchSpec struct {
	Batch  int `json:"batch"`
	N      int `json:"n"`
	Blocks int `json:"blocks"`
}

// GLASpec is gated linear attention: q, k, g [b, t, h, k], v [b, t, h, v];
// o [b, t, h, v] and, with final_state, ht [b, h, k, v].
type GLASpec struct {
	B          int     `json:"b"`
	T          int     `json:"t"`
	H          int     `json:"h"`
	K          int     `json:"k"`
	V          int     `json:"v"`
	Form       string  `json:"form,omitempty"`  // "chunked" (default) or "recurrent"
	Scale      float64 `json:"scale,omitempty"` // 0: k^-0.5
	FinalState bool    `json:"final_state,omitempty"`
}

// W4A4Spec is a quantized GEMM: x (m, k) float32 times quantized weights
// (n, k); y is (m, n) float32.
type W4A4Spec struct {
	M        int     `json:"m"`
	N        int     `json:"n"`
	K        int     `json:"k"`
	Group    int     `json:"group,omitempty"` // 0: 128
	Int8Frac float64 `json:"int8_frac,omitempty"`
}

// SpGEMMSpec is C = A*B with A generated or read, and B = A unless the
// input b is fed from another node.
type SpGEMMSpec struct {
	Gen   string `json:"gen,omitempty"`   // "er" (Erdos-Renyi) or "rmat"
	N     int    `json:"n,omitempty"`     // er: rows and columns
	Deg   int    `json:"deg,omitempty"`   // er: entries per row
	Scale int    `json:"scale,omitempty"` // rmat: 2^scale rows
	EF    int    `json:"ef,omitempty"`    // rmat: entries per row
	MTX   string `json:"mtx,omitempty"`   // a Matrix Market file instead
}

// maxElements bounds one generated operand (2^31 elements), so that a typo
// in a plan fails with ErrLimit rather than exhausting memory.
const maxElements = 1 << 31

// ReadFile reads and validates a plan file.
func ReadFile(path string) (*Plan, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.dir = filepath.Dir(path)
	return p, nil
}

// Parse reads and validates a plan; unknown fields are errors.
func Parse(r io.Reader) (*Plan, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, errs.Format("plan", err, "not a valid plan")
	}
	if dec.More() {
		return nil, errs.Format("plan", nil, "trailing data after the plan object")
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// port is an input or output: its shape (nil for sparse) and dtype.
type port struct {
	shape  []int
	dt     tensor.DType
	sparse bool
}

func (p *Plan) validate() error {
	const op = "plan"
	switch p.DType {
	case "", "float32":
		p.dt = tensor.Float32
	case "float64":
		p.dt = tensor.Float64
	default:
		return errs.Argument(op, "dtype must be float32 or float64, got %q", p.DType)
	}
	if p.Repeat == 0 {
		p.Repeat = 1
	}
	if p.Repeat < 0 || p.Repeat > 1_000_000 {
		return errs.Argument(op, "repeat must lie in [1, 1000000], got %d", p.Repeat)
	}
	if len(p.Nodes) == 0 {
		return errs.Argument(op, "no nodes")
	}
	outs := map[string]map[string]port{}
	for i := range p.Nodes {
		n := &p.Nodes[i]
		if n.Name == "" || strings.Contains(n.Name, ".") {
			return errs.Argument(op, "node %d: a name is required, without dots (got %q)", i, n.Name)
		}
		if outs[n.Name] != nil {
			return errs.Argument(op, "node %q: name used twice", n.Name)
		}
		if (n.Device != nil && *n.Device < 0) || (n.Stream != nil && *n.Stream < 0) {
			return errs.Argument(op, "node %q: device and stream must be >= 0", n.Name)
		}
		in, out, err := n.ports(p.dt)
		if err != nil {
			return err
		}
		for name, src := range n.Inputs {
			want, ok := in[name]
			if !ok {
				return errs.Argument(op, "node %q: no input %q (inputs: %s)", n.Name, name, keys(in))
			}
			from, output, ok := strings.Cut(src, ".")
			if !ok {
				return errs.Argument(op, "node %q: input %s: %q is not node.output", n.Name, name, src)
			}
			fo, ok := outs[from]
			if !ok {
				return errs.Argument(op, "node %q: input %s: no node %q before it", n.Name, name, from)
			}
			got, ok := fo[output]
			if !ok {
				return errs.Argument(op, "node %q: input %s: node %q has no output %q (outputs: %s)", n.Name, name, from, output, keys(fo))
			}
			if err := compatible(n.Name, name, src, got, want); err != nil {
				return err
			}
		}
		outs[n.Name] = out
	}
	return nil
}

// compatible checks that output got can feed input want.
func compatible(node, input, src string, got, want port) error {
	const op = "plan"
	if got.sparse != want.sparse {
		return errs.Argument(op, "node %q: input %s is %s, %s is not", node, input, kind(want), src)
	}
	if got.dt != want.dt {
		return errs.DType(op, "node %q: input %s is %v, %s is %v", node, input, want.dt, src, got.dt)
	}
	if !got.sparse && product(got.shape) != product(want.shape) {
		return errs.Shape(op, "node %q: input %s %v has %d elements, %s %v has %d", node, input, want.shape,
			product(want.shape), src, got.shape, product(got.shape))
	}
	return nil
}

func kind(p port) string {
	if p.sparse {
		return "sparse"
	}
	return "dense"
}

func product(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func keys(m map[string]port) string { return strings.Join(slices.Sorted(maps.Keys(m)), ", ") }
