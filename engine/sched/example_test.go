package sched_test

import (
	"context"
	"fmt"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/sched"
	"github.com/matmix/matmix/engine/tensor"
)

// Submit one workload, then run a two-node graph whose second node reads
// the first's output; print the results and where they ran.
func Example() {
	e, err := engine.Open(engine.WithBackend("cpu"), engine.WithThreads(1))
	if err != nil {
		panic(err)
	}
	defer e.Close()
	s, err := sched.New(sched.Options{Devices: []sched.Device{{Engine: e, Streams: 2}}})
	if err != nil {
		panic(err)
	}
	defer s.Close(context.Background())

	// A Monarch product of size 4 (2 blocks of 2x2 on each side); by hand:
	// y1 = (1, 2, 6, 8), permuted to (1, 6 | 2, 8), times w2's blocks gives
	// (7, 6 | 2, 10), read out as (7, 2, 6, 10).
	x, _ := tensor.FromFloat64([]float64{1, 2, 3, 4}, 1, 4)
	w1, _ := tensor.FromFloat64([]float64{1, 0, 0, 1, 2, 0, 0, 2}, 2, 2, 2) // diag(I, 2I)
	w2, _ := tensor.FromFloat64([]float64{1, 1, 0, 1, 1, 0, 1, 1}, 2, 2, 2)

	// Asynchronous submission: Submit returns at once, Wait blocks.
	job := &sched.MonarchJob{X: x, W1: w1, W2: w2}
	f := s.Submit(context.Background(), job)
	if err := f.Wait(); err != nil {
		panic(err)
	}
	fmt.Println("submit:", job.Y.Float64(), "on", f.Record().DeviceName)

	// A graph: the second product reads the first's y as its x.
	g := sched.NewGraph()
	first := g.Add("first", &sched.MonarchJob{X: x, W1: w1, W2: w2})
	second := &sched.MonarchJob{W1: w1, W2: w2}
	g.Add("second", second, sched.Bind("x", first, "y"))
	run, err := s.Run(context.Background(), g)
	if err != nil {
		panic(err)
	}
	fmt.Println("graph:", second.Y.Float64())
	for _, r := range run.Records() {
		fmt.Printf("%s: %s, ran %v, %d bytes\n", r.Name, r.Kind, r.Ran(), r.Bytes)
	}
	// Output:
	// submit: [7 2 6 10] on cpu
	// graph: [19 2 12 22]
	// first: monarch, ran true, 192 bytes
	// second: monarch, ran true, 192 bytes
}
