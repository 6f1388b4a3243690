package errs

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorKinds(t *testing.T) {
	err := Shape("monarch", "x has %d columns", 3)
	assert.Equal(t, "monarch: x has 3 columns", err.Error())
	assert.ErrorIs(t, err, ErrShape)
	assert.NotErrorIs(t, err, ErrDType)
	cause := errors.New("short read")
	err = Format("npy.Read", cause, "truncated data")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "npy.Read", e.Op)
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, "npy.Read: truncated data: short read", err.Error())
}
