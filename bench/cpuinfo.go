package bench

import (
	"bufio"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"
)

// CPUInfo describes the host CPU.
type CPUInfo struct {
	Model    string   `json:"model"`
	Arch     string   `json:"arch"`
	Cores    int      `json:"cores"` // logical CPUs usable by this process
	SIMD     []string `json:"simd"`
	LLCBytes int64    `json:"llc_bytes"`
}

// DescribeCPU reads the model from /proc/cpuinfo and the SIMD features
// from golang.org/x/sys/cpu (CPUID / HWCAP).
func DescribeCPU() CPUInfo {
	return CPUInfo{
		Model:    cpuModel("/proc/cpuinfo"),
		Arch:     runtime.GOARCH,
		Cores:    runtime.NumCPU(),
		SIMD:     simdFeatures(),
		LLCBytes: lastLevelCache("/sys/devices/system/cpu/cpu0/cache"),
	}
}

func cpuModel(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		// x86 says "model name"; arm64 kernels may only give "CPU part".
		if ok && (strings.TrimSpace(k) == "model name" || strings.TrimSpace(k) == "Model") {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// simdFeatures lists the vector extensions that matter for these kernels.
func simdFeatures() []string {
	var out []string
	add := func(ok bool, name string) {
		if ok {
			out = append(out, name)
		}
	}
	switch runtime.GOARCH {
	case "amd64", "386":
		x := cpu.X86
		add(x.HasSSE42, "sse4.2")
		add(x.HasAVX, "avx")
		add(x.HasAVX2, "avx2")
		add(x.HasFMA, "fma")
		add(x.HasF16C, "f16c")
		add(x.HasAVXVNNI, "avx-vnni")
		add(x.HasAVX512F, "avx512f")
		add(x.HasAVX512BW, "avx512bw")
		add(x.HasAVX512VL, "avx512vl")
		add(x.HasAVX512VNNI, "avx512vnni")
		add(x.HasAVX512BF16, "avx512bf16")
		add(x.HasAMXBF16, "amx-bf16")
	case "arm64":
		a := cpu.ARM64
		add(a.HasASIMD, "neon")
		add(a.HasASIMDHP, "neon-fp16")
		add(a.HasASIMDDP, "dotprod")
		add(a.HasI8MM, "i8mm")
		add(a.HasSVE, "sve")
		add(a.HasSVE2, "sve2")
	}
	return out
}
