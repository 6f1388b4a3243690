package bench

import (
	"context"
	"math/rand/v2"
	"unsafe"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/ref"
	"github.com/matmix/matmix/engine/sparse"
)

// SpGEMMCase times C = A*A (A*A^T when A is not square), params naming the
// matrix (gen=rmat/scale=.. or mtx=name).
func SpGEMMCase[T sparse.Float](e *engine.Engine, a *sparse.CSR[T], params []Param, refFLOPs float64) (Case, error) {
	b := a
	if a.Rows != a.Cols {
		t, err := a.Transpose()
		if err != nil {
			return Case{}, err
		}
		b = t
		params = append(params, Param{"b", "At"})
	}
	if err := sparse.CheckProduct(a, b); err != nil { // SpGEMMWork assumes valid operands
		return Case{}, err
	}
	perRow := make([]int64, a.Rows)
	work, err := sparse.SpGEMMWork(a, b, perRow)
	if err != nil {
		return Case{}, err
	}
	var zero T
	valBytes := float64(unsafe.Sizeof(zero))
	csrBytes := func(rows int, nnz int64) float64 { return 8*float64(rows+1) + float64(nnz)*(4+valBytes) }
	dtype := "float32"
	tol := 1e-5
	if valBytes == 8 {
		dtype, tol = "float64", 1e-12
	}
	params = append(params, Param{"dtype", dtype})
	c := Case{
		Op:      "spgemm",
		Params:  params,
		Backend: e.Backend(),
		FLOPs:   2 * float64(work),
		Bytes:   csrBytes(a.Rows, a.NNZ()) + csrBytes(b.Rows, b.NNZ()),
		Compute: "fp32",
	}
	c.Prepare = func(ctx context.Context, r *rand.Rand) (*Instance, error) {
		var out *sparse.CSR[T]
		inst := &Instance{Extra: map[string]float64{"nnz_a": float64(a.NNZ()), "rows": float64(a.Rows)}}
		inst.Run = func(ctx context.Context) error {
			cm, err := engine.SpGEMM(ctx, e, a, b)
			if err != nil {
				return err
			}
			if out == nil {
				// nnz(C) is known only now: it sets the output traffic.
				inst.Bytes = c.Bytes + csrBytes(cm.Rows, cm.NNZ())
				inst.Extra["nnz_c"] = float64(cm.NNZ())
				if cm.NNZ() > 0 {
					inst.Extra["compression"] = float64(work) / float64(cm.NNZ())
				}
			}
			out = cm
			return nil
		}
		inst.Check = func(ctx context.Context) Check {
			if out == nil {
				return Check{Status: "failed", Note: "no product computed"}
			}
			// Rows of C depend only on the same rows of A: check the
			// leading rows whose work fits the budget.
			rows, acc := 0, 0.0
			for rows < a.Rows && (rows == 0 || acc+2*float64(perRow[rows]) <= refFLOPs) {
				acc += 2 * float64(perRow[rows])
				rows++
			}
			subA := leadingRows(sparse.Convert[float64](a), rows)
			b64 := sparse.Convert[float64](b)
			want, err := ref.SpGEMM(subA, b64)
			if err != nil {
				return Check{Status: "failed", Note: "reference: " + err.Error()}
			}
			scale, err := ref.SpGEMM(subA.Abs(), b64.Abs())
			if err != nil {
				return Check{Status: "failed", Note: "reference: " + err.Error()}
			}
			got := leadingRows(sparse.Convert[float64](out), rows)
			chk := CheckTol("entrywise_rel", 0, tol, rowsNote("rows", rows, a.Rows))
			if d := sparse.Diff(got, want, scale, tol); d != "" {
				chk.Status, chk.Error, chk.Note = "failed", 1, d
			}
			return chk
		}
		return inst, nil
	}
	return c, nil
}

// leadingRows views the first rows of m.
func leadingRows[T sparse.Float](m *sparse.CSR[T], rows int) *sparse.CSR[T] {
	nnz := m.RowPtr[rows]
	return &sparse.CSR[T]{Rows: rows, Cols: m.Cols, RowPtr: m.RowPtr[:rows+1], ColInd: m.ColInd[:nnz], Val: m.Val[:nnz]}
}
