package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// monarchFiles writes random Monarch inputs of dtype dt and returns their
// paths and the float64 reference output.
func monarchFiles(t *testing.T, dir string, dt tensor.DType, d ref.MonarchDims) (x, w1, w2 string, want []float64) {
	r := newRand(t)
	xt := floatTensor(t, dt, uniform(r, d.Batch*d.N()), d.Batch, d.N())
	w1t := floatTensor(t, dt, uniform(r, d.K*d.Q*d.P), d.K, d.Q, d.P)
	w2t := floatTensor(t, dt, uniform(r, d.L*d.S*d.R), d.L, d.S, d.R)
	want = make([]float64, d.Batch*d.M())
	ref.MonarchForward(d, values(t, xt), values(t, w1t), values(t, w2t), want)
	return writeNpy(t, dir, "x.npy", xt), writeNpy(t, dir, "w1.npy", w1t), writeNpy(t, dir, "w2.npy", w2t), want
}

func TestRunMonarch(t *testing.T) {
	// Rectangular blocks, l*r = k*q with l != k: the permutation matters.
	d := ref.MonarchDims{Batch: 5, K: 4, Q: 3, P: 5, L: 2, S: 7, R: 6}
	for _, c := range []struct {
		dt      tensor.DType
		tol     float64
		backend string
	}{{tensor.Float32, 1e-5, "cpu"}, {tensor.Float64, 1e-12, "cpu"}, {tensor.Float64, 1e-12, "auto"}} {
		t.Run(fmt.Sprint(c.dt, "/", c.backend), func(t *testing.T) {
			dir := t.TempDir()
			x, w1, w2, want := monarchFiles(t, dir, c.dt, d)
			out := filepath.Join(dir, "y.npy")
			stdout := requireOK(t, "run", "monarch", "--x", x, "--w1", w1, "--w2", w2, "--out", out, "--backend", c.backend)
			require.Empty(t, stdout)
			y := readNpy(t, out)
			require.Equal(t, c.dt, y.DType(), "the output takes the input's dtype")
			require.Equal(t, []int{d.Batch, d.M()}, y.Shape())
			require.Less(t, relErr(values(t, y), want), c.tol)
		})
	}
}

func TestRunMonarchErrors(t *testing.T) {
	d := ref.MonarchDims{Batch: 2, K: 2, Q: 3, P: 2, L: 3, S: 2, R: 2}
	dir := t.TempDir()
	x, w1, w2, _ := monarchFiles(t, dir, tensor.Float32, d)
	out := filepath.Join(dir, "y.npy")
	r := newRand(t)
	badW1 := writeNpy(t, dir, "badw1.npy", floatTensor(t, tensor.Float32, uniform(r, 2*3*3), 2, 3, 3)) // p = 3 but n = 4
	f64W2 := writeNpy(t, dir, "w2f64.npy", floatTensor(t, tensor.Float64, uniform(r, 12), 3, 2, 2))
	xi, err := tensor.FromInt32([]int32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 4)
	require.NoError(t, err)
	intX := writeNpy(t, dir, "xi.npy", xi)
	base := func(over ...string) []string {
		args := []string{"run", "monarch", "--x", x, "--w1", w1, "--w2", w2, "--out", out, "--backend", "cpu"}
		return append(args, over...)
	}
	cases := []struct {
		name string
		args []string
		want string // a fragment of the error line
	}{
		{"missing --w2", []string{"run", "monarch", "--x", x, "--w1", w1, "--out", out}, "missing --w2"},
		{"missing --out", []string{"run", "monarch", "--x", x, "--w1", w1, "--w2", w2}, "missing --out"},
		{"missing file", base("--x", filepath.Join(dir, "nope.npy")), "no such file"},
		{"wrong shape", base("--w1", badW1), "monarch: "},
		{"mixed dtypes", base("--w2", f64W2), "dtype"},
		{"integer input", base("--x", intX), "int32"},
		{"not npy", base("--w1", writeFile(t, dir, "junk.npy", "hello, world")), "not a .npy file"},
		{"unknown flag", base("--y", x), "-y"},
		{"positional", base("extra"), "unexpected argument"},
		{"unknown backend", base("--backend", "tpu"), "unknown backend"},
		{"output dir missing", base("--out", filepath.Join(dir, "no", "y.npy")), "--out"},
		{"output is dir", base("--out", dir), "is a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := requireUserError(t, dir, []string{out, filepath.Join(dir, "no", "y.npy")}, c.args...)
			require.Contains(t, msg, c.want)
		})
	}
	// The good command the cases derive from does succeed.
	requireOK(t, base()...)
}
