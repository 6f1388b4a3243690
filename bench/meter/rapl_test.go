package meter

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/errs"
)

// fakeZone writes one powercap zone directory.
func fakeZone(t *testing.T, root, dir, name string, energy, maxRange uint64) {
	t.Helper()
	d := filepath.Join(root, dir)
	require.NoError(t, os.MkdirAll(d, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d, "name"), []byte(name+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(d, "max_energy_range_uj"), fmt.Appendf(nil, "%d\n", maxRange), 0o644))
	setEnergy(t, root, dir, energy)
}

func setEnergy(t *testing.T, root, dir string, v uint64) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(root, dir, "energy_uj"), fmt.Appendf(nil, "%d\n", v), 0o644))
}

func TestRAPLSumsPackagesAndUnwraps(t *testing.T) {
	r := testRand(t)
	root := t.TempDir()
	const maxRange = 262143328850
	e0 := uint64(r.Int64N(maxRange))
	e1 := uint64(r.Int64N(maxRange))
	fakeZone(t, root, "intel-rapl:0", "package-0", e0, maxRange)
	fakeZone(t, root, "intel-rapl:1", "package-1", e1, maxRange)
	// Sub-zones (cores, dram) are inside the package: never added again.
	fakeZone(t, root, "intel-rapl:0:0", "core", 5, maxRange)
	// psys includes the packages too.
	fakeZone(t, root, "intel-rapl:2", "psys", 7, maxRange)

	c := newFakeClock()
	m := OpenRAPL(root, c.Now)
	require.NoError(t, m.Err())
	assert.Equal(t, []string{"package-0", "package-1"}, m.Zones())
	assert.Equal(t, 1e-6, m.Counter().StepJ)

	w, err := m.Start()
	require.NoError(t, err)
	// Package 0 wraps past max_energy_range_uj; package 1 just advances.
	d0 := uint64(5_000_000) + uint64(r.IntN(1000))
	d1 := uint64(3_000_000) + uint64(r.IntN(1000))
	setEnergy(t, root, "intel-rapl:0", (e0+d0)%maxRange)
	setEnergy(t, root, "intel-rapl:1", (e1+d1)%maxRange)
	setEnergy(t, root, "intel-rapl:0:0", 1e12)
	c.Advance(2 * time.Second)
	e, err := w.Stop()
	require.NoError(t, err)
	assert.True(t, e.Moved)
	assert.InDelta(t, float64(d0+d1)*1e-6, e.Joules, 1e-9)
	assert.Equal(t, 2*time.Second, e.Duration)

	// Explicit wrap of zone 0 on a second window.
	setEnergy(t, root, "intel-rapl:0", maxRange-10)
	_, err = m.Read()
	require.NoError(t, err)
	w, err = m.Start()
	require.NoError(t, err)
	setEnergy(t, root, "intel-rapl:0", 30)
	e, err = w.Stop()
	require.NoError(t, err)
	// Exact in µJ; the difference of two float64 totals near 1e5 J keeps ~1e-10 J.
	assert.InDelta(t, 40e-6, e.Joules, 1e-9)
}

func TestRAPLUnavailable(t *testing.T) {
	m := OpenRAPL(t.TempDir(), time.Now)
	require.Error(t, m.Err())
	assert.ErrorIs(t, m.Err(), errs.ErrUnsupported)
	assert.Contains(t, m.Err().Error(), "no rapl zones")
	_, err := m.Start()
	assert.ErrorIs(t, err, errs.ErrUnsupported)

	// Root reads anything, so the permission message is checked directly.
	err = raplError("/sys/class/powercap/intel-rapl:0/energy_uj", fs.ErrPermission)
	assert.ErrorIs(t, err, errs.ErrDevice)
	assert.Contains(t, err.Error(), "readable by root only")
}

func TestRAPLZoneVanishes(t *testing.T) {
	root := t.TempDir()
	fakeZone(t, root, "intel-rapl:0", "package-0", 100, 1000)
	m := OpenRAPL(root, time.Now)
	require.NoError(t, m.Err())
	w, err := m.Start()
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(root, "intel-rapl:0", "energy_uj")))
	_, err = w.Stop()
	assert.ErrorIs(t, err, errs.ErrDevice)
}

func TestNullMeter(t *testing.T) {
	reason := errs.Unsupported("rapl", "not here")
	m := NewNull(reason, nil)
	assert.Equal(t, "none", m.Name())
	assert.Equal(t, reason, m.Err())
	_, err := m.Start()
	assert.ErrorIs(t, err, errs.ErrUnsupported)
	_, err = m.Read()
	assert.ErrorIs(t, err, errs.ErrUnsupported)
	assert.False(t, m.State().Time.IsZero())
	require.Error(t, NewNull(nil, nil).Err())
}

func TestCPUState(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "proc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "proc/cpuinfo"),
		[]byte("processor\t: 0\ncpu MHz\t\t: 2000.000\n\nprocessor\t: 1\ncpu MHz\t\t: 3000.000\n"), 0o644))
	for i, z := range []struct{ typ, temp string }{{"acpitz", "30000"}, {"x86_pkg_temp", "55000"}, {"other", "90000"}} {
		d := filepath.Join(root, "sys/class/thermal", fmt.Sprintf("thermal_zone%d", i))
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "type"), []byte(z.typ+"\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(d, "temp"), []byte(z.temp+"\n"), 0o644))
	}
	s := CPUState(root)
	require.NotNil(t, s.ClockMHz)
	assert.Equal(t, 2500.0, *s.ClockMHz)
	require.NotNil(t, s.TempC)
	assert.Equal(t, 55.0, *s.TempC)

	// cpufreq, where present, wins over cpuinfo.
	d := filepath.Join(root, "sys/devices/system/cpu/cpu0/cpufreq")
	require.NoError(t, os.MkdirAll(d, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d, "scaling_cur_freq"), []byte("1200000\n"), 0o644))
	s = CPUState(root)
	assert.Equal(t, 1200.0, *s.ClockMHz)

	s = CPUState(t.TempDir())
	assert.Nil(t, s.ClockMHz)
	assert.Nil(t, s.TempC)
}
