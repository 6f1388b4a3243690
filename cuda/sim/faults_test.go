//go:build cudasim

package sim

import (
	"testing"

	"github.com/matmix/matmix/cuda/device"
	"github.com/matmix/matmix/engine/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// injected checks that err is an injected device fault.
func injected(t *testing.T, err error, msg string) {
	t.Helper()
	require.ErrorIs(t, err, errs.ErrDevice, msg)
	require.ErrorIs(t, err, ErrInjected, msg)
}

// TestFaultsOnce: the Nth call of a kind fails, counted from the
// injection, sync and async forms alike; the calls around it work.
func TestFaultsOnce(t *testing.T) {
	d := open(t)
	s, err := d.NewStream()
	require.NoError(t, err)
	p, err := d.Alloc(64) // before the injection: not counted
	require.NoError(t, err)
	d.InjectFaults(Faults{Alloc: 2, Copy: 3, HostAlloc: 1, Launch: 2})

	q, err := d.AllocAsync(16, s) // alloc 1
	require.NoError(t, err)
	_, err = d.Alloc(16) // alloc 2
	injected(t, err, "second allocation")
	r, err := d.Alloc(16) // alloc 3: the fault was one call
	require.NoError(t, err)

	src := []byte{1, 2, 3, 4}
	require.NoError(t, d.CopyHtoD(p, src))          // copy 1
	require.NoError(t, d.CopyDtoDAsync(q, p, 4, s)) // copy 2
	injected(t, d.CopyDtoHAsync(make([]byte, 4), q, s), "third copy")
	got := make([]byte, 4)
	require.NoError(t, d.CopyDtoH(got, q)) // copy 4
	assert.Equal(t, src, got, "the copies before the fault happened")

	_, err = d.HostAlloc(8)
	injected(t, err, "first host allocation")
	h, err := d.HostAlloc(8)
	require.NoError(t, err)
	require.NoError(t, d.HostFree(h))

	// A launch the device would refuse (empty grid) counts as a call: the
	// first is refused as such, the second is the injected fault.
	assert.ErrorIs(t, d.Launch("no_such_kernel", device.D1(0), device.D1(32), 0, s), errs.ErrArgument)
	injected(t, d.Launch("no_such_kernel", device.D1(0), device.D1(32), 0, s), "second launch")

	assert.Equal(t, Faults{Alloc: 3, Copy: 4, HostAlloc: 2, Launch: 2}, d.Calls())
	for _, b := range []device.Ptr{p, q, r} {
		require.NoError(t, d.Free(b))
	}
}

// TestFaultsPersist: with Persist a kind keeps failing from its Nth call
// on, until the next injection.
func TestFaultsPersist(t *testing.T) {
	d := open(t)
	d.InjectFaults(Faults{Alloc: 2, Persist: true})
	p, err := d.Alloc(8)
	require.NoError(t, err)
	for range 3 {
		_, err := d.Alloc(8)
		injected(t, err, "allocations from the second on")
	}
	require.NoError(t, d.CopyHtoD(p, []byte{1}), "other kinds are not affected")
	d.InjectFaults(Faults{})
	q, err := d.Alloc(8)
	require.NoError(t, err, "a new injection clears the faults")
	assert.Equal(t, Faults{Alloc: 1}, d.Calls(), "and restarts the counts")
	require.NoError(t, d.Free(p))
	require.NoError(t, d.Free(q))
}
