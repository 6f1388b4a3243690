package sched

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/tensor"
)

// Graph is a set of workloads where a node takes other nodes' outputs as
// its inputs. Nodes are added after the nodes they read, so a graph is
// acyclic by construction. A graph runs once.
type Graph struct {
	nodes   []*Node
	started bool
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{} }

// Node is one workload of a graph.
type Node struct {
	g              *Graph
	idx            int
	name           string
	w              Workload
	in             []Edge
	device, stream int
}

// Name is the node's name.
func (n *Node) Name() string { return n.name }

// Workload is the node's workload (its outputs are valid once the node's
// future succeeded).
func (n *Node) Workload() Workload { return n.w }

// On places the node on device d and stream st (-1: the scheduler
// chooses), overriding the policy.
func (n *Node) On(d, st int) *Node {
	n.device, n.stream = d, st
	return n
}

// Edge feeds output Output of node From to input Input of the node it is
// given to, reshaped to Shape when Shape is set (a view: same elements).
// An Edge with an empty Output only orders the two nodes.
type Edge struct {
	From   *Node
	Output string
	Input  string
	Shape  []int
}

// Bind is the edge feeding output out of from to input in.
func Bind(in string, from *Node, out string) Edge { return Edge{From: from, Output: out, Input: in} }

// After is an edge that orders the node after from, passing no data.
func After(from *Node) Edge { return Edge{From: from} }

// Reshape returns the edge with its tensor reshaped to shape.
func (e Edge) Reshape(shape ...int) Edge {
	e.Shape = shape
	return e
}

// Add adds a node running w with the given input edges and returns it.
func (g *Graph) Add(name string, w Workload, in ...Edge) *Node {
	n := &Node{g: g, idx: len(g.nodes), name: name, w: w, in: in, device: -1, stream: -1}
	g.nodes = append(g.nodes, n)
	return n
}

// Nodes returns the nodes in the order they were added.
func (g *Graph) Nodes() []*Node { return append([]*Node(nil), g.nodes...) }

// DepError is the error of a node that did not run because a node it reads
// failed. It wraps that node's error, so errors.Is sees the root cause.
type DepError struct {
	Node, Dep string
	Err       error
}

func (e *DepError) Error() string {
	return fmt.Sprintf("sched: %s not run: its input %s failed: %v", e.Node, e.Dep, e.Err)
}

func (e *DepError) Unwrap() error { return e.Err }

// Run is a graph being executed.
type Run struct {
	s    *Scheduler
	g    *Graph
	ctx  context.Context
	futs []*Future
	deps [][]int // node -> distinct nodes it waits for
	outs [][]int // node -> distinct nodes that wait for it
	done chan struct{}

	mu      sync.Mutex
	pending []int  // dependencies not yet complete
	settled []bool // launched or failed
	left    int    // nodes not yet resolved
}

// Start validates g and starts running it: nodes run as soon as their
// inputs are ready, independent branches concurrently. It returns at once.
func (s *Scheduler) Start(ctx context.Context, g *Graph) (*Run, error) {
	if ctx == nil || g == nil {
		return nil, errs.Argument("sched.Start", "nil context or graph")
	}
	if g.started {
		return nil, errs.Argument("sched.Start", "graph already run (a graph runs once: its workloads hold their outputs)")
	}
	names := map[string]bool{}
	r := &Run{s: s, g: g, ctx: ctx, done: make(chan struct{}), left: len(g.nodes)}
	for _, n := range g.nodes {
		if n.w == nil {
			return nil, errs.Argument("sched.Start", "node %q has no workload", n.name)
		}
		if n.name == "" || names[n.name] {
			return nil, errs.Argument("sched.Start", "node names must be distinct and non-empty, got %q twice or empty", n.name)
		}
		names[n.name] = true
		var deps []int
		for _, e := range n.in {
			if e.From == nil || e.From.g != g || e.From.idx >= n.idx {
				return nil, errs.Argument("sched.Start", "node %q: an edge comes from a node not added before it in this graph", n.name)
			}
			if e.Output != "" && e.Input == "" {
				return nil, errs.Argument("sched.Start", "node %q: edge from %s.%s names no input", n.name, e.From.name, e.Output)
			}
			if !slices.Contains(deps, e.From.idx) {
				deps = append(deps, e.From.idx)
			}
		}
		r.deps = append(r.deps, deps)
		r.futs = append(r.futs, newFuture(n.w, n.name))
	}
	g.started = true
	r.outs = make([][]int, len(g.nodes))
	r.pending = make([]int, len(g.nodes))
	r.settled = make([]bool, len(g.nodes))
	for i, deps := range r.deps {
		r.pending[i] = len(deps)
		for _, d := range deps {
			r.outs[d] = append(r.outs[d], i)
		}
	}
	if len(g.nodes) == 0 {
		close(r.done)
		return r, nil
	}
	var roots []int
	for i := range g.nodes {
		if r.pending[i] == 0 {
			r.settled[i] = true
			roots = append(roots, i)
		}
	}
	for _, i := range roots {
		r.launch(i, false)
	}
	return r, nil
}

// Run runs g to completion: Start, then Wait.
func (s *Scheduler) Run(ctx context.Context, g *Graph) (*Run, error) {
	r, err := s.Start(ctx, g)
	if err != nil {
		return nil, err
	}
	return r, r.Wait()
}

// launch binds node i's inputs from its dependencies' outputs and submits
// it. Roots are submitted as external work (refused once Close began);
// the others as internal work, which a draining scheduler still accepts.
func (r *Run) launch(i int, internal bool) {
	n := r.g.nodes[i]
	for _, e := range n.in {
		if e.Output == "" {
			continue
		}
		if err := bind(n, e, r.futs[e.From.idx].w); err != nil {
			r.futs[i].resolve(err)
			r.finished(i)
			return
		}
	}
	r.s.submit(r.ctx, r.futs[i], placement{name: n.name, device: n.device, stream: n.stream}, internal,
		func(*Future) { r.finished(i) })
}

// bind sets one input of n from the output of the edge's source.
func bind(n *Node, e Edge, src Workload) error {
	v, err := src.Output(e.Output)
	if err != nil {
		return fmt.Errorf("sched: %s: input %s from %s.%s: %w", n.name, e.Input, e.From.name, e.Output, err)
	}
	if e.Shape != nil {
		t, ok := v.(*tensor.Tensor)
		if !ok {
			return errs.Argument("sched", "%s: input %s: cannot reshape %s.%s, a %T", n.name, e.Input, e.From.name, e.Output, v)
		}
		if v, err = t.Reshape(e.Shape...); err != nil {
			return fmt.Errorf("sched: %s: input %s from %s.%s: %w", n.name, e.Input, e.From.name, e.Output, err)
		}
	}
	if err := n.w.SetInput(e.Input, v); err != nil {
		return fmt.Errorf("sched: %s: %w", n.name, err)
	}
	return nil
}

// finished reacts to node i's completion: its dependents fail with it, or
// run once all their inputs are ready. No lock is held while submitting,
// since a refused submission completes (and re-enters here) at once.
func (r *Run) finished(i int) {
	f := r.futs[i]
	var ready, failed []int
	r.mu.Lock()
	for _, d := range r.outs[i] {
		if r.settled[d] {
			continue
		}
		if f.err != nil {
			r.settled[d] = true
			failed = append(failed, d)
			continue
		}
		r.pending[d]--
		if r.pending[d] == 0 {
			r.settled[d] = true
			ready = append(ready, d)
		}
	}
	r.mu.Unlock()
	for _, d := range failed {
		r.futs[d].resolve(&DepError{Node: r.g.nodes[d].name, Dep: r.g.nodes[i].name, Err: f.err})
		r.finished(d)
	}
	for _, d := range ready {
		r.launch(d, true)
	}
	r.mu.Lock()
	r.left--
	last := r.left == 0
	r.mu.Unlock()
	if last {
		close(r.done)
	}
}

// Done is closed once every node has completed, failed or been dropped.
func (r *Run) Done() <-chan struct{} { return r.done }

// Wait blocks until the run is done. It returns nil when every node
// succeeded, else the first failure in node order that is a root cause
// (not a DepError), naming its node.
func (r *Run) Wait() error {
	<-r.done
	var first error
	for i, f := range r.futs {
		if f.err == nil {
			continue
		}
		var dep *DepError
		if !errors.As(f.err, &dep) {
			return fmt.Errorf("node %s: %w", r.g.nodes[i].name, f.err)
		}
		if first == nil {
			first = f.err
		}
	}
	return first
}

// Future returns the future of node n.
func (r *Run) Future(n *Node) *Future { return r.futs[n.idx] }

// Records returns the records of every node, in node order, once done.
func (r *Run) Records() []Record {
	<-r.done
	recs := make([]Record, len(r.futs))
	for i, f := range r.futs {
		recs[i] = f.Record()
	}
	return recs
}
