package plan

import (
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
)

// ports validates the node's sizes and returns its inputs and outputs.
func (n *Node) ports(dt tensor.DType) (in, out map[string]port, err error) {
	count := 0
	for _, set := range []bool{n.Monarch != nil, n.GLA != nil, n.W4A4 != nil, n.SpGEMM != nil} {
		if set {
			count++
		}
	}
	if count != 1 {
		return nil, nil, errs.Argument("plan", "node %q: give exactly one of monarch, gla, w4a4, spgemm", n.Name)
	}
	switch {
	case n.Monarch != nil:
		return n.Monarch.ports(n.Name, dt)
	case n.GLA != nil:
		return n.GLA.ports(n.Name, dt)
	case n.W4A4 != nil:
		return n.W4A4.ports(n.Name)
	}
	return n.SpGEMM.ports(n.Name, dt)
}

// positive checks name/value pairs are >= 1 and that their product (the
// largest operand) stays within maxElements.
func positive(node string, pairs ...any) error {
	total := 1
	for i := 0; i < len(pairs); i += 2 {
		v := pairs[i+1].(int)
		if v < 1 {
			return errs.Argument("plan", "node %q: %s must be >= 1, got %d", node, pairs[i], v)
		}
		if v > maxElements || total > maxElements/v {
			return errs.Limit("plan", "node %q: sizes too large (an operand passes 2^31 elements)", node)
		}
		total *= v
	}
	return nil
}

func (s *MonarchSpec) ports(node string, dt tensor.DType) (in, out map[string]port, err error) {
	if err := positive(node, "batch", s.Batch, "n", s.N); err != nil {
		return nil, nil, err
	}
	if err := positive(node, "blocks", s.Blocks); err != nil {
		return nil, nil, err
	}
	if s.N%s.Blocks != 0 {
		return nil, nil, errs.Argument("plan", "node %q: n %d is not a multiple of blocks %d", node, s.N, s.Blocks)
	}
	x := port{shape: []int{s.Batch, s.N}, dt: dt}
	return map[string]port{"x": x}, map[string]port{"y": x}, nil
}

func (s *GLASpec) ports(node string, dt tensor.DType) (in, out map[string]port, err error) {
	if err := positive(node, "b", s.B, "t", s.T, "h", s.H, "k", s.K); err != nil {
		return nil, nil, err
	}
	if err := positive(node, "b", s.B, "t", s.T, "h", s.H, "v", s.V); err != nil {
		return nil, nil, err
	}
	if err := positive(node, "b", s.B, "h", s.H, "k", s.K, "v", s.V); err != nil {
		return nil, nil, err
	}
	if s.Form != "" && s.Form != "chunked" && s.Form != "recurrent" {
		return nil, nil, errs.Argument("plan", "node %q: form must be chunked or recurrent, got %q", node, s.Form)
	}
	if s.Scale < 0 {
		return nil, nil, errs.Argument("plan", "node %q: scale must be >= 0, got %v", node, s.Scale)
	}
	qk := port{shape: []int{s.B, s.T, s.H, s.K}, dt: dt}
	v := port{shape: []int{s.B, s.T, s.H, s.V}, dt: dt}
	out = map[string]port{"o": v}
	if s.FinalState {
		out["ht"] = port{shape: []int{s.B, s.H, s.K, s.V}, dt: tensor.Float32}
	}
	return map[string]port{"q": qk, "k": qk, "v": v, "g": qk}, out, nil
}

func (s *W4A4Spec) ports(node string) (in, out map[string]port, err error) {
	if err := positive(node, "m", s.M, "k", s.K); err != nil {
		return nil, nil, err
	}
	if err := positive(node, "n", s.N, "k", s.K); err != nil {
		return nil, nil, err
	}
	if err := positive(node, "m", s.M, "n", s.N); err != nil {
		return nil, nil, err
	}
	if s.Group == 0 {
		s.Group = quant.DefaultGroup
	}
	if s.Group < 1 {
		return nil, nil, errs.Argument("plan", "node %q: group must be >= 1, got %d", node, s.Group)
	}
	if !(s.Int8Frac >= 0 && s.Int8Frac <= 1) {
		return nil, nil, errs.Argument("plan", "node %q: int8_frac must lie in [0, 1], got %v", node, s.Int8Frac)
	}
	return map[string]port{"x": {shape: []int{s.M, s.K}, dt: tensor.Float32}},
		map[string]port{"y": {shape: []int{s.M, s.N}, dt: tensor.Float32}}, nil
}

func (s *SpGEMMSpec) ports(node string, dt tensor.DType) (in, out map[string]port, err error) {
	switch {
	case s.MTX != "":
		if s.Gen != "" {
			return nil, nil, errs.Argument("plan", "node %q: give gen or mtx, not both", node)
		}
	case s.Gen == "er":
		if err := positive(node, "n", s.N, "deg", s.Deg); err != nil {
			return nil, nil, err
		}
		if s.N > sparse.MaxDim {
			return nil, nil, errs.Limit("plan", "node %q: n %d passes 2^31-1", node, s.N)
		}
	case s.Gen == "rmat":
		if s.Scale < 1 || s.Scale > 30 {
			return nil, nil, errs.Argument("plan", "node %q: scale must lie in [1, 30], got %d", node, s.Scale)
		}
		if err := positive(node, "rows", 1<<s.Scale, "ef", s.EF); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, errs.Argument("plan", "node %q: gen must be er or rmat (or give mtx), got %q", node, s.Gen)
	}
	m := port{dt: dt, sparse: true}
	return map[string]port{"a": m, "b": m}, map[string]port{"c": m}, nil
}
