package meter

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPUState reads the CPU's mean core clock and package temperature from
// procfs and sysfs under root ("/" outside tests). What the machine does not
// expose (common in virtual machines) stays nil.
func CPUState(root string) State {
	s := State{Time: time.Now()}
	if mhz, ok := cpuMHz(root); ok {
		s.ClockMHz = ptr(mhz)
	}
	if t, ok := cpuTemp(root); ok {
		s.TempC = ptr(t)
	}
	return s
}

// cpuMHz averages cpufreq's scaling_cur_freq (kHz) over cores, or the
// "cpu MHz" lines of /proc/cpuinfo where cpufreq is absent.
func cpuMHz(root string) (float64, bool) {
	files, _ := filepath.Glob(filepath.Join(root, "sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"))
	var sum float64
	var n int
	for _, f := range files {
		if v, err := readUint(f); err == nil {
			sum += float64(v) / 1e3
			n++
		}
	}
	if n > 0 {
		return sum / float64(n), true
	}
	f, err := os.Open(filepath.Join(root, "proc/cpuinfo"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "cpu MHz" {
			continue
		}
		if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			sum += x
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// cpuTemp is the x86_pkg_temp thermal zone's temperature, else the hottest
// zone's (millidegrees in sysfs).
func cpuTemp(root string) (float64, bool) {
	zones, _ := filepath.Glob(filepath.Join(root, "sys/class/thermal/thermal_zone*"))
	best, found := 0.0, false
	for _, z := range zones {
		b, err := os.ReadFile(filepath.Join(z, "temp"))
		if err != nil {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil {
			continue
		}
		c := v / 1e3
		typ, _ := os.ReadFile(filepath.Join(z, "type"))
		if strings.TrimSpace(string(typ)) == "x86_pkg_temp" {
			return c, true
		}
		if !found || c > best {
			best, found = c, true
		}
	}
	return best, found
}
