package plan

import (
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/sparse"
	"github.com/matmix/matmix/engine/tensor"
)

// Prepared is a plan with its inputs generated, ready to run. The inputs
// are made once and shared by every repetition (as a model's weights are);
// each repetition computes fresh outputs.
type Prepared struct {
	p      *Plan
	inputs []map[string]any // per node: the inputs no edge feeds
}

// Prepare generates the inputs: values uniform in ±[0.05, 1] (never zero),
// GLA gates log-decays logsigmoid(u)/16, W4A4 weights quantized once, node
// i drawing from the stream (Seed, i) so that editing one node does not
// change the others' inputs.
func (p *Plan) Prepare() (*Prepared, error) {
	pp := &Prepared{p: p}
	for i := range p.Nodes {
		n := &p.Nodes[i]
		r := rand.New(rand.NewPCG(p.Seed, uint64(i)))
		in := map[string]any{}
		gen := func(name string, dt tensor.DType, values func(int) []float64, shape ...int) error {
			if _, fed := n.Inputs[name]; fed {
				return nil
			}
			t, err := tensor.New(dt, shape...)
			if err != nil {
				return err
			}
			in[name] = t
			return t.SetFromFloat64(values(t.Len()))
		}
		uniform := func(k int) []float64 { return check.Uniform(r, k) }
		var err error
		switch {
		case n.Monarch != nil:
			s, bs := n.Monarch, n.Monarch.N/n.Monarch.Blocks
			err = firstErr(
				gen("x", p.dt, uniform, s.Batch, s.N),
				gen("w1", p.dt, uniform, s.Blocks, bs, bs),
				gen("w2", p.dt, uniform, s.Blocks, bs, bs))
		case n.GLA != nil:
			s := n.GLA
			gates := func(k int) []float64 {
				g := check.Uniform(r, k)
				for i, u := range g {
					g[i] = -math.Log1p(math.Exp(-u)) / 16
				}
				return g
			}
			err = firstErr(
				gen("q", p.dt, uniform, s.B, s.T, s.H, s.K),
				gen("k", p.dt, uniform, s.B, s.T, s.H, s.K),
				gen("v", p.dt, uniform, s.B, s.T, s.H, s.V),
				gen("g", p.dt, gates, s.B, s.T, s.H, s.K))
		case n.W4A4 != nil:
			s := n.W4A4
			err = gen("x", tensor.Float32, uniform, s.M, s.K)
			if err == nil {
				err = gen("w", tensor.Float32, uniform, s.N, s.K)
			}
			if err == nil {
				in["w"], err = engine.QuantizeWeights(in["w"].(*tensor.Tensor), s.Group)
			}
		default:
			if _, fed := n.Inputs["a"]; !fed {
				in["a"], err = p.matrix(n.SpGEMM, uint64(i))
			}
		}
		if err != nil {
			return nil, err
		}
		pp.inputs = append(pp.inputs, in)
	}
	return pp, nil
}

// matrix makes an SpGEMM operand in the plan's dtype.
func (p *Plan) matrix(s *SpGEMMSpec, stream uint64) (any, error) {
	var a *sparse.CSR[float64]
	switch s.Gen {
	case "er":
		a = sparse.ErdosRenyi(s.N, s.Deg, p.Seed^stream<<32)
	case "rmat":
		a = sparse.RMAT(s.Scale, s.EF, p.Seed^stream<<32)
	default:
		path := s.MTX
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.dir, path)
		}
		var err error
		if a, err = mtx.ReadFile(path); err != nil {
			return nil, err
		}
	}
	if p.dt == tensor.Float32 {
		return sparse.Convert[float32](a), nil
	}
	return a, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Graph builds one repetition: fresh jobs over the prepared inputs, with
// the plan's edges. The nodes are in plan order.
func (pp *Prepared) Graph() (*sched.Graph, []*sched.Node, error) {
	g := sched.NewGraph()
	byName := map[string]*sched.Node{}
	var nodes []*sched.Node
	for i := range pp.p.Nodes {
		n := &pp.p.Nodes[i]
		w := pp.job(n)
		for _, name := range slices.Sorted(maps.Keys(pp.inputs[i])) {
			if err := w.SetInput(name, pp.inputs[i][name]); err != nil {
				return nil, nil, err
			}
		}
		in, _, err := n.ports(pp.p.dt)
		if err != nil {
			return nil, nil, err
		}
		var edges []sched.Edge
		for _, name := range slices.Sorted(maps.Keys(n.Inputs)) {
			from, output, _ := strings.Cut(n.Inputs[name], ".") // names hold no dot
			e := sched.Bind(name, byName[from], output)
			if !in[name].sparse {
				e = e.Reshape(in[name].shape...)
			}
			edges = append(edges, e)
		}
		node := g.Add(n.Name, w, edges...)
		if n.Device != nil {
			st := -1
			if n.Stream != nil {
				st = *n.Stream
			}
			node.On(*n.Device, st)
		}
		byName[n.Name] = node
		nodes = append(nodes, node)
	}
	return g, nodes, nil
}

// job is a fresh workload for node n.
func (pp *Prepared) job(n *Node) sched.Workload {
	switch {
	case n.Monarch != nil:
		return &sched.MonarchJob{}
	case n.GLA != nil:
		form := engine.GLAChunked
		if n.GLA.Form == "recurrent" {
			form = engine.GLARecurrent
		}
		return &sched.GLAJob{Opt: engine.GLAOptions{Form: form, Scale: n.GLA.Scale, FinalState: n.GLA.FinalState}}
	case n.W4A4 != nil:
		return &sched.W4A4Job{Int8Frac: n.W4A4.Int8Frac}
	}
	if pp.p.dt == tensor.Float32 {
		return &sched.SpGEMMJob[float32]{}
	}
	return &sched.SpGEMMJob[float64]{}
}

// Result is what a plan run did.
type Result struct {
	Plan *Plan
	// Records holds every workload's record, repetition after repetition,
	// nodes in plan order within one.
	Records []sched.Record
	// Repeats is the number of repetitions run (fewer than Plan.Repeat
	// after an error).
	Repeats int
	Wall    time.Duration
	// Last holds the workloads of the last repetition run, in plan order,
	// with their outputs.
	Last []sched.Workload
}

// Run runs the plan's repetitions one after the other on s. It stops at
// the first failing repetition, returning what ran so far with the error.
func (pp *Prepared) Run(ctx context.Context, s *sched.Scheduler) (*Result, error) {
	res := &Result{Plan: pp.p}
	t0 := time.Now()
	defer func() { res.Wall = time.Since(t0) }()
	for range pp.p.Repeat {
		g, nodes, err := pp.Graph()
		if err != nil {
			return res, err
		}
		run, err := s.Start(ctx, g)
		if err != nil {
			return res, err
		}
		err = run.Wait()
		res.Records = append(res.Records, run.Records()...)
		res.Repeats++
		res.Last = res.Last[:0]
		for _, n := range nodes {
			res.Last = append(res.Last, n.Workload())
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}
