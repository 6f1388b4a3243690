package images

import (
	"fmt"
	"testing"

	"github.com/matmix/matmix/engine/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChoose(t *testing.T) {
	names := []string{
		"gla.compute_80.ptx", "gla.sm_80.cubin", "gla.sm_86.cubin", "gla.sm_89.cubin", "gla.sm_90.cubin",
		"monarch.compute_80.ptx", "monarch.sm_80.cubin", "monarch.sm_90.cubin", "SOURCES.sha256",
	}
	for _, c := range []struct {
		major, minor int
		want         []string
	}{
		{8, 0, []string{"gla.sm_80.cubin", "monarch.sm_80.cubin"}},
		{8, 6, []string{"gla.sm_86.cubin", "monarch.sm_80.cubin"}},
		{8, 7, []string{"gla.sm_86.cubin", "monarch.sm_80.cubin"}}, // Orin: the sm_86 SASS runs there
		{8, 9, []string{"gla.sm_89.cubin", "monarch.sm_80.cubin"}},
		{9, 0, []string{"gla.sm_90.cubin", "monarch.sm_90.cubin"}},
		{10, 0, []string{"gla.compute_80.ptx", "monarch.compute_80.ptx"}}, // Blackwell: JIT from PTX
		{12, 0, []string{"gla.compute_80.ptx", "monarch.compute_80.ptx"}},
	} {
		got, err := choose(names, c.major, c.minor)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "%d.%d", c.major, c.minor)
	}
	_, err := choose(names, 7, 5)
	assert.ErrorIs(t, err, errs.ErrUnsupported, "Turing has neither SASS nor PTX it can run")
}

func TestSelectEmbedded(t *testing.T) {
	for _, cc := range [][2]int{{8, 0}, {8, 6}, {8, 9}, {9, 0}} {
		imgs, err := Select(cc[0], cc[1])
		require.NoError(t, err)
		require.NotEmpty(t, imgs)
		for _, im := range imgs {
			assert.Equal(t, fmt.Sprintf("sm_%d%d", cc[0], cc[1]), im.Arch, "an exact cubin is embedded for %v", cc)
			// Every cubin is an ELF file.
			assert.Equal(t, []byte("\x7fELF"), im.Data[:4], im.Name)
		}
	}
	imgs, err := Select(10, 0)
	require.NoError(t, err)
	for _, im := range imgs {
		assert.Contains(t, string(im.Data), ".visible .entry", im.Name)
	}
}
