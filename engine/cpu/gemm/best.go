package gemm

// best and bestLane are the fastest kernels this CPU runs.
var (
	best     = kernels[0]
	bestLane = laneKernels[0]
)

// Kernel names the micro-kernel MatMul uses on this machine.
func Kernel() string { return best.name }

// LaneKernel names the micro-kernel LaneMatMul uses on this machine.
func LaneKernel() string { return bestLane.name }

// LaneWidth is how many lanes LaneMatMul's kernel computes at once here;
// lanes past a multiple of it take a slower path.
func LaneWidth() int { return bestLane.width }
