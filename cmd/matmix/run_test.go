package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

func TestRunDispatch(t *testing.T) {
	dir := t.TempDir()
	msg := requireUserError(t, dir, nil, "run")
	require.Contains(t, msg, "missing workload")
	msg = requireUserError(t, dir, nil, "run", "fft")
	require.Contains(t, msg, `unknown workload "fft"`)

	code, stdout, stderr := runMain("run", "-h")
	require.Equal(t, 0, code)
	require.Empty(t, stderr)
	for _, w := range []string{"monarch", "gla", "w4a4", "spgemm", "--backend"} {
		require.Contains(t, stdout, w)
	}
	for _, w := range []string{"monarch", "gla", "w4a4", "spgemm"} {
		code, stdout, stderr := runMain("run", w, "--help")
		require.Equal(t, 0, code)
		require.Empty(t, stderr)
		require.Contains(t, stdout, "usage: matmix run "+w)
		require.Contains(t, stdout, "-out")
		require.Contains(t, stdout, "-backend")
	}
}

// rawNpy builds a .npy file by hand (version 1.0) from a header dictionary
// and data, to make files the package npy would never write.
func rawNpy(t *testing.T, dir, name, dict string, data []byte) string {
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)+1))
	b = append(append(append(b, dict...), '\n'), data...)
	return writeFile(t, dir, name, string(b))
}

// TestRunBadFiles feeds malformed .npy files to a workload: each is one
// error line, no output, no panic.
func TestRunBadFiles(t *testing.T) {
	d := ref.MonarchDims{Batch: 2, K: 2, Q: 2, P: 2, L: 2, S: 2, R: 2}
	dir := t.TempDir()
	x, w1, w2, _ := monarchFiles(t, dir, tensor.Float32, d)
	out := filepath.Join(dir, "y.npy")
	good, err := os.ReadFile(x)
	require.NoError(t, err)
	f32 := make([]byte, 4*8)
	files := []struct {
		name, path, want string
	}{
		{"truncated data", writeFile(t, dir, "trunc.npy", string(good[:len(good)-3])), "truncated"},
		{"truncated header", writeFile(t, dir, "trunch.npy", string(good[:20])), "truncated header"},
		{"empty file", writeFile(t, dir, "empty.npy", ""), "not a .npy file"},
		{"fortran order", rawNpy(t, dir, "fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4), }", f32), "fortran"},
		{"complex dtype", rawNpy(t, dir, "c8.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }", f32), "not supported"},
		{"object dtype", rawNpy(t, dir, "obj.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2, 4), }", f32), "not supported"},
		{"bad header", rawNpy(t, dir, "hdr.npy", "{'descr': '<f4', 'shape': (2, 4), }", f32), "fortran_order"},
		{"huge shape", rawNpy(t, dir, "huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 100000), }", f32), "truncated"},
		{"too many elements", rawNpy(t, dir, "huger.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000), }", f32), "2^46"},
		{"trailing bytes", writeFile(t, dir, "trail.npy", string(good)+"xx"), "after the data"},
		{"a directory", t.TempDir(), "npy"},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			msg := requireUserError(t, dir, []string{out}, "run", "monarch", "--x", f.path, "--w1", w1, "--w2", w2, "--out", out)
			require.Contains(t, strings.ToLower(msg), f.want)
		})
	}
}

// TestRunFailureKeepsExistingOutput: a failed run leaves an existing output
// file as it was.
func TestRunFailureKeepsExistingOutput(t *testing.T) {
	d := ref.MonarchDims{Batch: 2, K: 2, Q: 3, P: 2, L: 3, S: 2, R: 2}
	dir := t.TempDir()
	x, w1, _, _ := monarchFiles(t, dir, tensor.Float32, d)
	out := writeFile(t, dir, "y.npy", "previous result")
	requireUserError(t, dir, nil, "run", "monarch", "--x", x, "--w1", w1, "--w2", w1, "--out", out)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "previous result", string(got))
}

// TestRunBackendCUDA: --backend cuda works where a GPU backend opens and is
// one error line where it does not (this machine has no GPU).
func TestRunBackendCUDA(t *testing.T) {
	d := ref.MonarchDims{Batch: 2, K: 2, Q: 2, P: 2, L: 2, S: 2, R: 2}
	dir := t.TempDir()
	x, w1, w2, want := monarchFiles(t, dir, tensor.Float32, d)
	out := filepath.Join(dir, "y.npy")
	args := []string{"run", "monarch", "--x", x, "--w1", w1, "--w2", w2, "--out", out, "--backend", "cuda"}
	e, err := engine.Open(engine.WithBackend("cuda"))
	if err != nil {
		msg := requireUserError(t, dir, []string{out}, args...)
		require.Contains(t, msg, "--backend cuda")
		return
	}
	require.NoError(t, e.Close())
	requireOK(t, args...)
	require.Less(t, relErr(values(t, readNpy(t, out)), want), 1e-5)
}
