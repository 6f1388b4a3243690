// Package atomicfile writes files so that a reader sees either the old
// content or the complete new one, never a half-written file: the data goes
// to a temporary file in the same directory (so the rename stays on one file
// system), which is synced, closed and renamed over the target. On any error
// the temporary file is removed and the target is left untouched.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Perm is the mode of the files this package creates: os.CreateTemp makes
// 0600 files, which would surprise a user expecting what os.Create gives.
const Perm os.FileMode = 0o644

// Write creates or replaces path with what write produces. write gets a
// writer on the temporary file; its error (or any I/O error) aborts the write
// and leaves path as it was.
func Write(path string, write func(w io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// File is a pending replacement of a file. Write to it, then Commit to put
// it in place or Abort to drop it. Several Files committed one after the
// other let a command write all of its outputs before any of them appears.
type File struct {
	f    *os.File
	path string
	done bool
}

// Create starts a replacement of path; nothing is visible at path until
// Commit.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return nil, fmt.Errorf("write %q: not a file name", path)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return nil, err
	}
	return &File{f: f, path: path}, nil
}

// Write writes to the temporary file.
func (a *File) Write(p []byte) (int, error) { return a.f.Write(p) }

// Abort removes the temporary file; the target is untouched. It is safe to
// call after Commit or another Abort (it then does nothing), so it can be
// deferred.
func (a *File) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	os.Remove(a.f.Name())
}

// Commit syncs the temporary file and renames it over the target. On error
// the temporary file is removed and the target is untouched.
func (a *File) Commit() error {
	if a.done {
		return errors.New("atomicfile: commit after commit or abort")
	}
	err := a.f.Chmod(Perm)
	if err == nil {
		// Sync before rename: otherwise a crash can leave the new name
		// pointing at an empty file on file systems that reorder metadata
		// and data writes.
		err = a.f.Sync()
	}
	if err == nil {
		err = a.f.Close()
	}
	if err == nil {
		err = os.Rename(a.f.Name(), a.path)
	}
	if err != nil {
		a.Abort()
		return err
	}
	a.done = true
	syncDir(filepath.Dir(a.path))
	return nil
}

// syncDir makes the rename durable where the platform allows it; failure
// only weakens durability after a crash, not atomicity, so it is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
