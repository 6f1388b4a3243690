package gemm

// best is the fastest kernel this CPU runs.
var best = kernels[0]

// Kernel names the micro-kernel MatMul uses on this machine.
func Kernel() string { return best.name }
