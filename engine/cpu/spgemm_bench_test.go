package cpu_test

// Benchmarks of C = A*A in float64 at the sizes of issue 7, with the peak
// memory of one product reported against its inputs plus output.
//
// The matrices: bcsstk16 from shared/data/matrices (or $MATMIX_MATRICES);
// R-MAT scale 16, edge factor 16, and Erdos-Renyi 2^17, degree 16, generated
// with sparse.RMAT and sparse.ErdosRenyi (seed 1), unless $MATMIX_SPGEMM_DIR
// names a directory holding rmat16.mtx and er17.mtx, in which case those are
// read. To time the very same matrices as the peers:
//
//	python3 shared/peers/peers.py spgemm --gen rmat --scale 16 --ef 16 --write /tmp/rmat16.mtx
//	python3 shared/peers/peers.py spgemm --gen er --scale 17 --ef 16 --write /tmp/er17.mtx
//	MATMIX_SPGEMM_DIR=/tmp go test -run '^$' -bench SpGEMM -benchtime 5x ./engine/cpu
//
// Metrics: peak/io is (inputs + the growth of the process's peak resident
// memory during one product on a fresh backend) / (inputs + output), from
// VmHWM of /proc/self/status, reset through /proc/self/clear_refs (Linux);
// alloc/io is (inputs + bytes the product allocated) / (inputs + output).
// The inputs are A once (B is A). faults/op counts page faults a product
// (Linux), first touches of fresh memory, C's mostly.

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/matmix/matmix/engine/cpu"
	"github.com/matmix/matmix/engine/mtx"
	"github.com/matmix/matmix/engine/sparse"
)

func BenchmarkSpGEMMRMAT16(b *testing.B) {
	benchSpGEMM(b, benchMatrix(b, "rmat16.mtx", func() *sparse.CSR[float64] { return sparse.RMAT(16, 16, 1) }))
}

func BenchmarkSpGEMMER17(b *testing.B) {
	benchSpGEMM(b, benchMatrix(b, "er17.mtx", func() *sparse.CSR[float64] { return sparse.ErdosRenyi(1<<17, 16, 1) }))
}

func BenchmarkSpGEMMBcsstk16(b *testing.B) {
	dir := os.Getenv("MATMIX_MATRICES")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "matrices")
		if _, err := os.Stat(dir); err != nil {
			dir = filepath.Join("..", "..", "..", "shared", "data", "matrices") // a worktree next to shared/
		}
	}
	a, err := mtx.ReadFile(filepath.Join(dir, "bcsstk16.mtx"))
	if err != nil {
		b.Fatal(err)
	}
	benchSpGEMM(b, a)
}

// benchMatrix reads name from $MATMIX_SPGEMM_DIR when set, else generates.
func benchMatrix(b *testing.B, name string, gen func() *sparse.CSR[float64]) *sparse.CSR[float64] {
	dir := os.Getenv("MATMIX_SPGEMM_DIR")
	if dir == "" {
		return gen()
	}
	a, err := mtx.ReadFile(filepath.Join(dir, name))
	if err != nil {
		b.Fatal(err)
	}
	return a
}

func csrBytes(m *sparse.CSR[float64]) int64 { return 8*int64(len(m.RowPtr)) + 12*m.NNZ() }

func benchSpGEMM(b *testing.B, a *sparse.CSR[float64]) {
	ctx := context.Background()
	flops, err := sparse.SpGEMMFLOPs(a, a)
	if err != nil {
		b.Fatal(err)
	}
	// One product on a fresh backend, whose workspace is then new, for the
	// memory figures.
	var c *sparse.CSR[float64]
	hwm, alloc := measureMemory(func() {
		if c, err = cpu.New(0).SpGEMM64(ctx, a, a, noLimit); err != nil {
			b.Fatal(err)
		}
	})
	in, io := csrBytes(a), csrBytes(a)+csrBytes(c)
	nnzC := c.NNZ()
	c = nil
	b.Run("float64", func(b *testing.B) {
		be := cpu.New(0)
		b.ReportAllocs()
		flt0, n := pageFaults(), 0
		for b.Loop() {
			if _, err := be.SpGEMM64(ctx, a, a, noLimit); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(pageFaults()-flt0)/float64(n), "faults/op")
		b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		b.ReportMetric(float64(nnzC), "nnz(C)")
		if hwm >= 0 {
			b.ReportMetric(float64(in+hwm)/float64(io), "peak/io")
		}
		b.ReportMetric(float64(in+alloc)/float64(io), "alloc/io")
	})
}

// pageFaults counts the process's minor page faults.
func pageFaults() int64 {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return u.Minflt
}

// measureMemory runs f once and returns the growth of the peak resident set
// (-1 where /proc cannot tell) and the bytes f allocated.
func measureMemory(f func()) (hwm, alloc int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	base := -int64(1)
	if os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil { // 5: reset the peak RSS
		base = procStatusBytes("VmHWM:")
	}
	f()
	runtime.ReadMemStats(&after)
	hwm = -1
	if peak := procStatusBytes("VmHWM:"); base >= 0 && peak >= 0 {
		hwm = peak - base
	}
	return hwm, int64(after.TotalAlloc - before.TotalAlloc)
}

// procStatusBytes reads a "Key: N kB" line of /proc/self/status, or -1.
func procStatusBytes(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), key); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}
