package sched

import (
	"math"
	"runtime"

	"github.com/matmix/matmix/engine"
)

// CPUSplit divides cores between workloads and the threads inside each:
// streams concurrent workloads of threads engine threads each, with
// streams*threads <= cores so that the two levels of parallelism do not
// oversubscribe the machine. Every engine call already parallelises inside
// (parallelFor), which pays off on large problems; running several
// workloads at once pays off on small ones, whose inner loops cannot use
// every core. The square root splits the difference: 2 cores give 2
// streams of 1 thread, 16 give 4 x 4, 64 give 8 x 8.
func CPUSplit(cores int) (streams, threads int) {
	if cores <= 1 {
		return 1, 1
	}
	streams = max(2, int(math.Sqrt(float64(cores))))
	return streams, max(1, cores/streams)
}

// CPUDevice opens a CPU engine for a scheduler device of the given number
// of streams (0: CPUSplit of GOMAXPROCS), each workload using
// GOMAXPROCS/streams threads. The caller closes d.Engine.
func CPUDevice(streams int) (Device, error) {
	cores := runtime.GOMAXPROCS(0)
	threads := 0
	if streams <= 0 {
		streams, threads = CPUSplit(cores)
	} else {
		threads = max(1, cores/streams)
	}
	e, err := engine.Open(engine.WithBackend("cpu"), engine.WithThreads(threads))
	if err != nil {
		return Device{}, err
	}
	return Device{Engine: e, Streams: streams}, nil
}
