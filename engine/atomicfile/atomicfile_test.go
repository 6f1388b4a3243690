package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	require.NoError(t, Write(p, func(w io.Writer) error { _, err := io.WriteString(w, "first"); return err }))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "first", string(got))
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, Perm, st.Mode().Perm())

	require.NoError(t, Write(p, func(w io.Writer) error { _, err := io.WriteString(w, "second"); return err }))
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "second", string(got))
	requireOnly(t, dir, "out.bin")
}

func TestWriteErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return boom
	})
	require.ErrorIs(t, err, boom)
	requireOnly(t, dir) // neither the target nor the temporary file

	// An existing file survives a failed rewrite unchanged.
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o644))
	require.ErrorIs(t, Write(p, func(w io.Writer) error { _, _ = io.WriteString(w, "new"); return boom }), boom)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "old", string(got))
	requireOnly(t, dir, "out.bin")
}

func TestWriteMissingDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "out.bin")
	called := false
	err := Write(p, func(io.Writer) error { called = true; return nil })
	require.ErrorIs(t, err, os.ErrNotExist)
	require.False(t, called)
}

func TestWriteRelativeName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, Write("rel.txt", func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }))
	requireOnly(t, dir, "rel.txt")
	require.Error(t, Write(dir+string(filepath.Separator), func(io.Writer) error { return nil }))
}

func requireOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	require.ElementsMatch(t, names, got)
}

func TestCreateCommitAbort(t *testing.T) {
	dir := t.TempDir()
	a, err := Create(filepath.Join(dir, "a"))
	require.NoError(t, err)
	b, err := Create(filepath.Join(dir, "b"))
	require.NoError(t, err)
	_, err = io.WriteString(a, "A")
	require.NoError(t, err)
	_, err = io.WriteString(b, "B")
	require.NoError(t, err)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 2, "two temporary files")
	for _, e := range ents {
		require.NotContains(t, []string{"a", "b"}, e.Name(), "nothing visible before Commit")
	}
	require.NoError(t, a.Commit())
	b.Abort()
	b.Abort() // idempotent
	a.Abort() // after Commit: no effect
	require.Error(t, a.Commit())
	requireOnly(t, dir, "a")
	got, err := os.ReadFile(filepath.Join(dir, "a"))
	require.NoError(t, err)
	require.Equal(t, "A", string(got))
}

func TestCommitFailureRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "d")
	require.NoError(t, os.Mkdir(target, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(target, "keep"), nil, 0o644))
	a, err := Create(target) // renaming a file over a non-empty directory fails
	require.NoError(t, err)
	_, err = io.WriteString(a, "x")
	require.NoError(t, err)
	require.Error(t, a.Commit())
	requireOnly(t, dir, "d")
}
