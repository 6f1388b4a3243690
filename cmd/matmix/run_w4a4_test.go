package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/quant"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

var relErrLine = regexp.MustCompile(`^w4a4: relative error (\S+) \(.*\)\n$`)

func TestRunW4A4(t *testing.T) {
	for _, c := range []struct {
		m, n, k int
		group   int     // 0: flag omitted (128)
		frac    float64 // with group 0: flag omitted (0)
	}{
		{5, 6, 40, 16, 0.5}, // a short last group; 2 of 3 groups 8-bit
		{3, 4, 300, 0, 0},   // the defaults: groups of 128, all 4-bit
		{4, 3, 33, 8, 1},    // every group 8-bit
	} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			dir := t.TempDir()
			r := newRand(t)
			x := floatTensor(t, tensor.Float32, uniform(r, c.m*c.k), c.m, c.k)
			w := floatTensor(t, tensor.Float32, uniform(r, c.n*c.k), c.n, c.k)
			out := filepath.Join(dir, "y.npy")
			args := []string{"run", "w4a4", "--x", writeNpy(t, dir, "x.npy", x), "--w", writeNpy(t, dir, "w.npy", w), "--out", out, "--backend", "cpu"}
			group := c.group
			if group != 0 {
				args = append(args, "--group", fmt.Sprint(c.group), "--int8-frac", fmt.Sprint(c.frac))
			} else {
				group = quant.DefaultGroup
			}
			stdout := requireOK(t, args...)

			// The float64 evaluation of the quantized formula.
			xq, err := engine.QuantizeActivations(x, group, c.frac)
			require.NoError(t, err)
			wq, err := engine.QuantizeWeights(w, group)
			require.NoError(t, err)
			want := ref.W4A4(xq, wq)
			y := readNpy(t, out)
			require.Equal(t, tensor.Float32, y.DType())
			require.Equal(t, []int{c.m, c.n}, y.Shape())
			require.Less(t, relErr(values(t, y), want), 1e-6)

			// The reported error is that of y against x w^T.
			m := relErrLine.FindStringSubmatch(stdout)
			require.NotNil(t, m, "stdout %q", stdout)
			reported, err := strconv.ParseFloat(m[1], 64)
			require.NoError(t, err)
			exact := make([]float64, c.m*c.n)
			xv, wv := values(t, x), values(t, w)
			for i := range c.m {
				for j := range c.n {
					for p := range c.k {
						exact[i*c.n+j] += xv[i*c.k+p] * wv[j*c.k+p]
					}
				}
			}
			measured := relErr(values(t, y), exact)
			require.Greater(t, measured, 0.0)
			require.InDelta(t, measured, reported, 1e-3*measured)
		})
	}
}

func TestRunW4A4Errors(t *testing.T) {
	const m, n, k = 3, 4, 20
	dir := t.TempDir()
	r := newRand(t)
	x := writeNpy(t, dir, "x.npy", floatTensor(t, tensor.Float32, uniform(r, m*k), m, k))
	w := writeNpy(t, dir, "w.npy", floatTensor(t, tensor.Float32, uniform(r, n*k), n, k))
	x64 := writeNpy(t, dir, "x64.npy", floatTensor(t, tensor.Float64, uniform(r, m*k), m, k))
	wK := writeNpy(t, dir, "wk.npy", floatTensor(t, tensor.Float32, uniform(r, n*(k+1)), n, k+1))
	x3 := writeNpy(t, dir, "x3.npy", floatTensor(t, tensor.Float32, uniform(r, m*k), 1, m, k))
	xi := writeNpy(t, dir, "xi.npy", intTensor(t, tensor.Int32, make([]int, m*k)...))
	out := filepath.Join(dir, "y.npy")
	base := func(over ...string) []string {
		return append([]string{"run", "w4a4", "--x", x, "--w", w, "--out", out, "--backend", "cpu"}, over...)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing --w", []string{"run", "w4a4", "--x", x, "--out", out}, "missing --w"},
		{"negative group", base("--group", "-1"), "--group"},
		{"zero group", base("--group", "0"), "--group"},
		{"group not a number", base("--group", "big"), "-group"},
		{"int8 fraction 2", base("--int8-frac", "2"), "--int8-frac"},
		{"int8 fraction negative", base("--int8-frac", "-0.1"), "--int8-frac"},
		{"int8 fraction NaN", base("--int8-frac", "NaN"), "--int8-frac"},
		{"float64 input", base("--x", x64), "float32"},
		{"integer input", base("--x", xi), "int32"},
		{"K mismatch", base("--w", wK), "K"},
		{"rank 3", base("--x", x3), "rank"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Contains(t, requireUserError(t, dir, []string{out}, c.args...), c.want)
		})
	}
	requireOK(t, base()...)
}
