package meter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/matmix/matmix/engine/errs"
)

// PowercapRoot is where Linux exposes RAPL.
const PowercapRoot = "/sys/class/powercap"

// RAPL meters the CPU packages through Linux powercap: the energy_uj
// counters of the top-level intel-rapl:N zones (AMD's RAPL appears there
// too). The counters wrap at max_energy_range_uj; every read adds the
// wrapped difference to a running total, so a window stays correct as long
// as the counter is read at least once per wrap (minutes at full power).
type RAPL struct {
	zones []raplZone
	now   func() time.Time
	err   error

	mu    sync.Mutex
	last  []uint64
	total uint64 // µJ since the meter opened (exact: float64 would lose µJ)
}

type raplZone struct {
	name     string // "package-0"
	energy   string // path of energy_uj
	maxRange uint64
}

// OpenRAPL opens the package zones under root (PowercapRoot outside
// tests). It always returns a meter; one that cannot measure says why.
func OpenRAPL(root string, now func() time.Time) *RAPL {
	m := &RAPL{now: now}
	m.zones, m.err = findZones(root)
	if m.err != nil {
		return m
	}
	m.last = make([]uint64, len(m.zones))
	for i, z := range m.zones {
		v, err := readUint(z.energy)
		if err != nil {
			m.err = raplError(z.energy, err)
			return m
		}
		m.last[i] = v
	}
	return m
}

// findZones lists the top-level zones (intel-rapl:N, not the sub-zones
// intel-rapl:N:M, which the package already includes). psys, where present,
// also includes the packages, so it is used only when nothing else exists.
func findZones(root string) ([]raplZone, error) {
	dirs, err := filepath.Glob(filepath.Join(root, "intel-rapl:*"))
	if err != nil {
		return nil, errs.Argument("rapl", "bad powercap root %q", root)
	}
	var pkgs, psys []raplZone
	for _, d := range dirs {
		if strings.Count(filepath.Base(d), ":") != 1 {
			continue
		}
		name, err := os.ReadFile(filepath.Join(d, "name"))
		if err != nil {
			continue
		}
		z := raplZone{name: strings.TrimSpace(string(name)), energy: filepath.Join(d, "energy_uj")}
		z.maxRange, err = readUint(filepath.Join(d, "max_energy_range_uj"))
		if err != nil {
			return nil, raplError(filepath.Join(d, "max_energy_range_uj"), err)
		}
		if z.name == "psys" {
			psys = append(psys, z)
		} else {
			pkgs = append(pkgs, z)
		}
	}
	if len(pkgs) == 0 {
		pkgs = psys
	}
	if len(pkgs) == 0 {
		return nil, errs.Unsupported("rapl", "no rapl zones under %s (no intel/amd powercap driver, or not exposed in this vm or container)", root)
	}
	slices.SortFunc(pkgs, func(a, b raplZone) int { return strings.Compare(a.energy, b.energy) })
	return pkgs, nil
}

func raplError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		// Since Linux 5.10 energy_uj is readable by root only (CVE-2020-8694).
		return errs.Device("rapl", nil, "%s is readable by root only (since linux 5.10, cve-2020-8694): run as root or grant read access", path)
	}
	return errs.Device("rapl", err, "read %s", path)
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Name is "rapl".
func (m *RAPL) Name() string { return "rapl" }

// Zones names the zones summed ("package-0", ...).
func (m *RAPL) Zones() []string {
	out := make([]string, len(m.zones))
	for i, z := range m.zones {
		out[i] = z.name
	}
	return out
}

// Err says why the meter cannot measure.
func (m *RAPL) Err() error { return m.err }

// Read adds each zone's change since the last read (unwrapped) to the total.
func (m *RAPL) Read() (Reading, error) {
	if m.err != nil {
		return Reading{}, m.err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, z := range m.zones {
		v, err := readUint(z.energy)
		if err != nil {
			return Reading{}, raplError(z.energy, err)
		}
		d := v - m.last[i]
		if v < m.last[i] {
			// The counter wrapped to 0 after max_energy_range_uj.
			d = z.maxRange - m.last[i] + v
		}
		m.total += d
		m.last[i] = v
	}
	return Reading{Joules: float64(m.total) * 1e-6, Time: m.now()}, nil
}

// Start opens a window.
func (m *RAPL) Start() (Window, error) { return startWindow(m.Read) }

// Counter: 1 µJ units; the kernel updates roughly every millisecond, and
// the harness probes the actual period.
func (m *RAPL) Counter() CounterInfo { return CounterInfo{StepJ: 1e-6} }

// State reads the CPU's clock and temperature.
func (m *RAPL) State() State { return CPUState("/") }

// Close does nothing.
func (m *RAPL) Close() error { return nil }
