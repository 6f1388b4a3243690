package bench

import (
	"strconv"

	"github.com/matmix/matmix/engine/errs"
)

func itoa(i int) string { return strconv.Itoa(i) }

// positive checks size parameters.
func positive(op string, kv ...any) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if v := kv[i+1].(int); v <= 0 {
			return errs.Argument(op, "--%s must be > 0, got %d", kv[i], v)
		}
	}
	return nil
}
