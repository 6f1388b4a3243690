package engine

// The CUDA backend registers itself as "cuda" (backend.Register), so one
// `go build` makes a binary that uses a GPU where a driver exists and the CPU
// elsewhere; built with -tags cudasim it runs the kernels on the CPU simulator.
import _ "github.com/matmix/matmix/cuda/backend"
