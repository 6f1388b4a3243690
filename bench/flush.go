package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const maxFlushBytes = 512 << 20

// flusher evicts the host caches by writing one byte per cache line of a
// buffer twice the size of the last-level cache: the "cold" mode. Writing
// (not only reading) also pushes out dirty lines of the previous run.
type flusher struct {
	buf []byte
	n   byte
}

func newFlusher(bytes int64) *flusher {
	if bytes <= 0 {
		bytes = min(2*lastLevelCache("/sys/devices/system/cpu/cpu0/cache"), maxFlushBytes)
	}
	return &flusher{buf: make([]byte, bytes)}
}

func (f *flusher) flush() {
	f.n++
	for i := 0; i < len(f.buf); i += 64 {
		f.buf[i] = f.n
	}
}

// lastLevelCache reads the largest cache size under dir (sysfs
// cpu0/cache/index*/size, e.g. "32768K"); 64 MiB when unknown.
func lastLevelCache(dir string) int64 {
	files, _ := filepath.Glob(filepath.Join(dir, "index*", "size"))
	var best int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if v := parseCacheSize(strings.TrimSpace(string(b))); v > best {
			best = v
		}
	}
	if best == 0 {
		return 64 << 20
	}
	return best
}

func parseCacheSize(s string) int64 {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0
	}
	return v * mult
}
