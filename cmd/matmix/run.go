package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/matmix/matmix/engine"
	"github.com/matmix/matmix/engine/errs"
	"github.com/matmix/matmix/engine/npy"
	"github.com/matmix/matmix/engine/tensor"
)

const runUsage = `usage: matmix run <workload> [flags]

workloads:
  monarch  --x X.npy --w1 W1.npy --w2 W2.npy --out Y.npy
  gla      --q Q.npy --k K.npy --v V.npy --g G.npy [--h0 H0.npy] [--scale S]
           [--cu-seqlens CU.npy] --out O.npy [--final-state HT.npy]
  w4a4     --x X.npy --w W.npy [--group 128] [--int8-frac 0] --out Y.npy
  spgemm   --a A.mtx [--b B.mtx] [--transpose-b] --out C.mtx
a plan of workloads (docs/runtime.md):
  matmix run --plan PLAN.json [--trace TRACE.json]   ('matmix run --plan -h' for its flags)
common flags:
  --backend auto|cpu|cuda   (auto: cuda where a usable GPU is found, else cpu)

Outputs take the inputs' float dtype and are written atomically: a failed
run leaves no output file (and an existing one unchanged).
Run 'matmix run <workload> -h' for a workload's flags.`

// runCmd runs one workload on files: matmix run monarch|gla|w4a4|spgemm.
func runCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("run: missing workload (want monarch, gla, w4a4 or spgemm)")
	}
	// Ctrl-C cancels a long product; nothing is written then.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if planArgs(args) {
		return runPlan(ctx, args, stdout)
	}
	rest := args[1:]
	switch args[0] {
	case "monarch":
		return runMonarch(ctx, rest, stdout)
	case "gla":
		return runGLA(ctx, rest, stdout)
	case "w4a4":
		return runW4A4(ctx, rest, stdout)
	case "spgemm":
		return runSpGEMM(ctx, rest, stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, runUsage)
		return flag.ErrHelp
	}
	return fmt.Errorf("run: unknown workload %q (want monarch, gla, w4a4 or spgemm)", args[0])
}

// runCommand is the command line of one workload: its flags, the common
// ones, which of them are required, and which name output files.
type runCommand struct {
	name     string
	synopsis string
	fs       *flag.FlagSet
	stdout   io.Writer
	backend  string
	required []string
	outputs  []string
}

func newRunCommand(name, synopsis string, stdout io.Writer) *runCommand {
	c := &runCommand{name: name, synopsis: synopsis, stdout: stdout, fs: flag.NewFlagSet("run "+name, flag.ContinueOnError)}
	// The flag package prints its errors and the usage to its output; the
	// error comes back from Parse and Main prints it as one line instead.
	c.fs.SetOutput(io.Discard)
	c.fs.Usage = func() {}
	c.fs.StringVar(&c.backend, "backend", "auto", "auto, cpu or cuda (auto: cuda where a usable GPU is found, else cpu)")
	return c
}

// file declares a string flag naming a file; required ones must be given.
func (c *runCommand) file(name, usage string, required bool) *string {
	if required {
		c.required = append(c.required, name)
	}
	return c.fs.String(name, "", usage)
}

// output declares a flag naming an output file.
func (c *runCommand) output(name, usage string, required bool) *string {
	c.outputs = append(c.outputs, name)
	return c.file(name, usage, required)
}

// errorf reports a user error with the command's name.
func (c *runCommand) errorf(format string, args ...any) error {
	return errs.Argument("run "+c.name, format, args...)
}

// parse parses the flags and checks, before any work, that the required
// ones are there and that every output can be created.
func (c *runCommand) parse(args []string) error {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.help()
			return err
		}
		return fmt.Errorf("run %s: %w", c.name, err)
	}
	if c.fs.NArg() > 0 {
		return c.errorf("unexpected argument %q (flags take the form --name value)", c.fs.Arg(0))
	}
	for _, name := range c.required {
		if c.fs.Lookup(name).Value.String() == "" {
			return c.errorf("missing --%s: %s", name, c.fs.Lookup(name).Usage)
		}
	}
	seen := map[string]string{}
	for _, name := range c.outputs {
		p := c.fs.Lookup(name).Value.String()
		if p == "" {
			continue
		}
		if other, ok := seen[filepath.Clean(p)]; ok {
			return c.errorf("--%s and --%s name the same file %s", other, name, p)
		}
		seen[filepath.Clean(p)] = name
		if err := checkOutputPath(p); err != nil {
			return c.errorf("--%s: %v", name, err)
		}
	}
	return nil
}

// checkOutputPath fails early when path cannot be written, rather than after
// the computation.
func checkOutputPath(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("cannot write %s: %s is not a directory", path, dir)
	}
	return nil
}

func (c *runCommand) help() {
	fmt.Fprintf(c.stdout, "usage: matmix run %s %s\n\nflags:\n", c.name, c.synopsis)
	c.fs.SetOutput(c.stdout)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
}

// open opens the engine on the chosen backend.
func (c *runCommand) open() (*engine.Engine, error) {
	e, err := engine.Open(engine.WithBackend(c.backend))
	if err != nil {
		return nil, fmt.Errorf("run %s: --backend %s: %w", c.name, c.backend, err)
	}
	return e, nil
}

// readNpy reads the .npy file named by flag name.
func (c *runCommand) readNpy(name, path string) (*tensor.Tensor, error) {
	t, err := npy.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("run %s: --%s: %w", c.name, name, err)
	}
	return t, nil
}

// requireFloat refuses an input of an integer dtype early, naming its flag.
func (c *runCommand) requireFloat(name string, t *tensor.Tensor) error {
	if !t.DType().IsFloat() {
		return errs.DType("run "+c.name, "--%s is %v, want a float dtype (float32 or float64)", name, t.DType())
	}
	return nil
}

// flagSet reports whether the flag was given on the command line.
func (c *runCommand) flagSet(name string) bool {
	set := false
	c.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
