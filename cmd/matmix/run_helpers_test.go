package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/conformance/check"
	"github.com/matmix/matmix/engine/npy"
	"github.com/matmix/matmix/engine/tensor"
)

// Helpers of the run tests; random inputs and error measures come from
// engine/conformance/check.

var (
	newRand = check.NewRand
	uniform = check.Uniform
	relErr  = check.RelFrobenius
)

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
