package engine_test

import (
	"context"
	"fmt"
	"log"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/tensor"
)

// The README's example: a square Monarch of size 16 (4 blocks of 4x4 in each factor).
func ExampleEngine_Monarch() {
	e, err := engine.Open(engine.WithBackend("cpu"))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	const batch, n = 2, 16
	xs := make([]float32, batch*n)
	for i := range xs {
		xs[i] = float32(i%7) - 3
	}
	x, _ := tensor.FromFloat32(xs, batch, n) // a view of xs, not a copy
	w1, _ := tensor.New(tensor.Float32, 4, 4, 4)
	w2, _ := tensor.New(tensor.Float32, 4, 4, 4)
	for i := range w1.Float32() {
		w1.Float32()[i], w2.Float32()[i] = 0.1*float32(i%5), 0.2*float32(i%3)
	}
	y, err := e.Monarch(context.Background(), x, w1, w2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(y.Shape())
	fmt.Printf("%.3f\n", y.Float32()[:4])
	// Output:
	// [2 16]
	// [-0.240 -0.280 -1.000 -0.080]
}
