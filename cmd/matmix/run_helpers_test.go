package main

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/npy"
	"github.com/matmix/matmix/engine/tensor"
)

// Helpers of the run tests. engine/internal/check cannot be imported from
// cmd/ (Go's internal rule), so the little they need is restated here.

func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 1))
}

// uniform returns n values in [-1, -0.05] ∪ [0.05, 1], never zero.
func uniform(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 0.05 + 0.95*r.Float64()
		if r.IntN(2) == 0 {
			v[i] = -v[i]
		}
	}
	return v
}

// relErr is ||got - want||_F / ||want||_F, +Inf on NaN or a length mismatch.
func relErr(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range got {
		if math.IsNaN(got[i]) {
			return math.Inf(1)
		}
		num += (got[i] - want[i]) * (got[i] - want[i])
		den += want[i] * want[i]
	}
	return math.Sqrt(num / den)
}

// floatTensor makes a tensor of dtype dt (float32 or float64) holding v.
func floatTensor(t *testing.T, dt tensor.DType, v []float64, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(dt, shape...)
	require.NoError(t, err)
	require.NoError(t, x.SetFromFloat64(v))
	return x
}

// values returns the values a float tensor holds, widened to float64 (what
// the float64 reference must be given so that it sees the same inputs).
func values(t *testing.T, x *tensor.Tensor) []float64 {
	t.Helper()
	v, err := x.AsFloat64()
	require.NoError(t, err)
	return v
}

func writeNpy(t *testing.T, dir, name string, x *tensor.Tensor) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, npy.WriteFile(p, x))
	return p
}

func readNpy(t *testing.T, path string) *tensor.Tensor {
	t.Helper()
	x, err := npy.ReadFile(path)
	require.NoError(t, err)
	return x
}

// runMain runs the command line in process.
func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// requireOK runs a command that must succeed silently on stderr.
func requireOK(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := runMain(args...)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	require.Empty(t, stderr)
	return stdout
}

// requireUserError runs a command that must fail as the CLI contract says:
// exit status != 0, exactly one line on stderr starting "matmix:", nothing
// on stdout, and none of the outputs created (no temporary file left either:
// the directory holds what it held before). It returns the error line.
func requireUserError(t *testing.T, dir string, outs []string, args ...string) string {
	t.Helper()
	before := listDir(t, dir)
	code, stdout, stderr := runMain(args...)
	require.NotEqual(t, 0, code, "args %q succeeded", args)
	require.Empty(t, stdout)
	require.True(t, strings.HasPrefix(stderr, "matmix: "), "stderr %q", stderr)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "stderr %q", stderr)
	require.True(t, strings.HasSuffix(stderr, "\n"))
	for _, o := range outs {
		_, err := os.Stat(o)
		require.True(t, errors.Is(err, fs.ErrNotExist), "output %s exists after a failed run", o)
	}
	require.Equal(t, before, listDir(t, dir), "a failed run changed the directory")
	t.Log(strings.TrimSpace(stderr)) // go test -v shows every message for review
	return strings.TrimSpace(stderr)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}
