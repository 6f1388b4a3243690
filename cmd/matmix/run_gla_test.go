package main

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/tensor"
)

// glaCase is one GLA problem written to files.
type glaCase struct {
	q, k, v, g, h0 string    // paths ("" h0: none)
	o, ht          []float64 // float64 reference outputs
}

// glaFiles writes random q, k, v, g of dtype dt ([B, T, H, K] / [B, T, H, V]),
// g a log decay <= 0, and h0 of dtype h0dt (Invalid: none) for the sequences
// given by offsets; it returns the paths and the reference outputs.
func glaFiles(t *testing.T, dir string, dt, h0dt tensor.DType, B, T, H, K, V int, offsets []int, scale float64) glaCase {
	r := newRand(t)
	n := len(offsets) - 1
	q := floatTensor(t, dt, uniform(r, B*T*H*K), B, T, H, K)
	k := floatTensor(t, dt, uniform(r, B*T*H*K), B, T, H, K)
	v := floatTensor(t, dt, uniform(r, B*T*H*V), B, T, H, V)
	gv := uniform(r, B*T*H*K)
	for i := range gv {
		gv[i] = -0.5 * math.Abs(gv[i])
	}
	g := floatTensor(t, dt, gv, B, T, H, K)
	var c glaCase
	var h0v []float64
	if h0dt != tensor.Invalid {
		// float32 values, so that rounding a float64 h0 to the float32 state is exact.
		h32 := floatTensor(t, tensor.Float32, uniform(r, n*H*K*V), n, H, K, V)
		h0v = values(t, h32)
		c.h0 = writeNpy(t, dir, "h0.npy", floatTensor(t, h0dt, h0v, n, H, K, V))
	}
	c.o, c.ht = ref.GLA(values(t, q), values(t, k), values(t, v), values(t, g), h0v, offsets, H, K, V, scale)
	c.q, c.k, c.v, c.g = writeNpy(t, dir, "q.npy", q), writeNpy(t, dir, "k.npy", k), writeNpy(t, dir, "v.npy", v), writeNpy(t, dir, "g.npy", g)
	return c
}

func (c glaCase) args(out string, more ...string) []string {
	a := []string{"run", "gla", "--q", c.q, "--k", c.k, "--v", c.v, "--g", c.g, "--out", out, "--backend", "cpu"}
	if c.h0 != "" {
		a = append(a, "--h0", c.h0)
	}
	return append(a, more...)
}

func TestRunGLA(t *testing.T) {
	const B, T, H, K, V = 2, 9, 2, 3, 4
	for _, c := range []struct {
		dt, h0dt    tensor.DType
		scale       float64 // 0: the default K^-0.5, no --scale flag
		tolO, tolHT float64
	}{
		{tensor.Float32, tensor.Float32, 0.4, 1e-4, 1e-4},
		{tensor.Float64, tensor.Float64, 0, 1e-12, 1e-6}, // ht is float32
		{tensor.Float64, tensor.Float32, -0.7, 1e-12, 1e-6},
		{tensor.Float32, tensor.Invalid, 0, 1e-4, 1e-4},
	} {
		t.Run(fmt.Sprint(c.dt, "/h0 ", c.h0dt, "/scale ", c.scale), func(t *testing.T) {
			dir := t.TempDir()
			scale := c.scale
			if scale == 0 {
				scale = 1 / math.Sqrt(K)
			}
			files := glaFiles(t, dir, c.dt, c.h0dt, B, T, H, K, V, ref.GLAOffsets(B, T), scale)
			out, ht := filepath.Join(dir, "o.npy"), filepath.Join(dir, "ht.npy")
			args := files.args(out, "--final-state", ht)
			if c.scale != 0 {
				args = append(args, "--scale", fmt.Sprint(c.scale))
			}
			require.Empty(t, requireOK(t, args...))
			o := readNpy(t, out)
			require.Equal(t, c.dt, o.DType())
			require.Equal(t, []int{B, T, H, V}, o.Shape())
			require.Less(t, relErr(values(t, o), files.o), c.tolO)
			h := readNpy(t, ht)
			require.Equal(t, tensor.Float32, h.DType(), "the state is float32")
			require.Equal(t, []int{B, H, K, V}, h.Shape())
			require.Less(t, relErr(values(t, h), files.ht), c.tolHT)
		})
	}
}

func TestRunGLAVarlen(t *testing.T) {
	const T, H, K, V = 11, 2, 4, 3
	offsets := []int{0, 3, 3, 11} // an empty sequence in the middle
	for _, cuDT := range []tensor.DType{tensor.Int32, tensor.Int64} {
		t.Run(cuDT.String(), func(t *testing.T) {
			dir := t.TempDir()
			files := glaFiles(t, dir, tensor.Float32, tensor.Float32, 1, T, H, K, V, offsets, 1/math.Sqrt(K))
			cu := writeNpy(t, dir, "cu.npy", intTensor(t, cuDT, offsets...))
			out, ht := filepath.Join(dir, "o.npy"), filepath.Join(dir, "ht.npy")
			requireOK(t, files.args(out, "--cu-seqlens", cu, "--final-state", ht)...)
			require.Less(t, relErr(values(t, readNpy(t, out)), files.o), 1e-4)
			h := readNpy(t, ht)
			require.Equal(t, []int{3, H, K, V}, h.Shape())
			require.Less(t, relErr(values(t, h), files.ht), 1e-4)
		})
	}
}

// TestRunGLANoFinalState: without --final-state only o is written.
func TestRunGLANoFinalState(t *testing.T) {
	dir := t.TempDir()
	files := glaFiles(t, dir, tensor.Float32, tensor.Invalid, 1, 5, 1, 2, 2, ref.GLAOffsets(1, 5), 1/math.Sqrt(2))
	out := filepath.Join(dir, "o.npy")
	requireOK(t, files.args(out)...)
	require.Less(t, relErr(values(t, readNpy(t, out)), files.o), 1e-4)
	require.ElementsMatch(t, []string{"q.npy", "k.npy", "v.npy", "g.npy", "o.npy"}, listDir(t, dir))
}

func intTensor(t *testing.T, dt tensor.DType, v ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(dt, len(v))
	require.NoError(t, err)
	for i, e := range v {
		if dt == tensor.Int32 {
			x.Int32()[i] = int32(e)
		} else {
			x.Int64()[i] = int64(e)
		}
	}
	return x
}

func TestRunGLAErrors(t *testing.T) {
	const T, H, K, V = 6, 2, 3, 2
	dir := t.TempDir()
	files := glaFiles(t, dir, tensor.Float32, tensor.Float32, 1, T, H, K, V, ref.GLAOffsets(1, T), 1/math.Sqrt(K))
	r := newRand(t)
	out, ht := filepath.Join(dir, "o.npy"), filepath.Join(dir, "ht.npy")
	cuBad := writeNpy(t, dir, "cubad.npy", intTensor(t, tensor.Int64, 0, 4, 2, T))
	cuShort := writeNpy(t, dir, "cushort.npy", intTensor(t, tensor.Int32, 0, 4))
	cuFloat := writeNpy(t, dir, "cuf.npy", floatTensor(t, tensor.Float32, []float64{0, 3, T}, 3))
	cuOK := writeNpy(t, dir, "cuok.npy", intTensor(t, tensor.Int32, 0, 3, T))
	vBad := writeNpy(t, dir, "vbad.npy", floatTensor(t, tensor.Float32, uniform(r, T*(H+1)*V), 1, T, H+1, V))
	vBad2 := writeNpy(t, dir, "vbad2.npy", floatTensor(t, tensor.Float32, uniform(r, (T-1)*H*V), 1, T-1, H, V))
	q64 := writeNpy(t, dir, "q64.npy", floatTensor(t, tensor.Float64, uniform(r, T*H*K), 1, T, H, K))
	qInt := writeNpy(t, dir, "qint.npy", intTensor(t, tensor.Int64, make([]int, T*H*K)...))
	h0Bad := writeNpy(t, dir, "h0bad.npy", floatTensor(t, tensor.Float32, uniform(r, 2*H*K*V), 2, H, K, V))
	h0Int := writeNpy(t, dir, "h0int.npy", intTensor(t, tensor.Int32, make([]int, H*K*V)...))
	outs := []string{out, ht}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing --g", []string{"run", "gla", "--q", files.q, "--k", files.k, "--v", files.v, "--out", out}, "missing --g"},
		{"cu_seqlens out of order", files.args(out, "--cu-seqlens", cuBad, "--final-state", ht), "decreases"},
		{"cu_seqlens not ending at T", files.args(out, "--cu-seqlens", cuShort), "ends at"},
		{"cu_seqlens float", files.args(out, "--cu-seqlens", cuFloat), "int32 or int64"},
		{"h0 of one sequence for two", files.args(out, "--cu-seqlens", cuOK), "h0"},
		{"h0 shape", files.args(out, "--h0", h0Bad), "h0"},
		{"h0 integer", files.args(out, "--h0", h0Int), "h0"},
		{"v shape", files.args(out, "--v", vBad), "v "},
		{"v length", files.args(out, "--v", vBad2), "v "},
		{"mixed dtypes", files.args(out, "--q", q64), "dtype"},
		{"integer q", files.args(out, "--q", qInt), "--q is int64"},
		{"scale zero", files.args(out, "--scale", "0"), "--scale"},
		{"scale NaN", files.args(out, "--scale", "NaN"), "--scale"},
		{"scale not a number", files.args(out, "--scale", "big"), "-scale"},
		{"same output twice", files.args(out, "--final-state", out), "same file"},
		{"final state dir missing", files.args(out, "--final-state", filepath.Join(dir, "no", "ht.npy")), "--final-state"},
		{"missing h0 file", files.args(out, "--h0", filepath.Join(dir, "none.npy")), "--h0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Contains(t, requireUserError(t, dir, outs, c.args...), c.want)
		})
	}
	requireOK(t, files.args(out, "--final-state", ht)...)
}
