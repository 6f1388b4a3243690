// Command matmix runs Monarch, gated linear attention, W4A4 GEMM and SpGEMM
// workloads on files (matmix run), times them with energy measurement
// (matmix bench) and lists the machine's devices (matmix devices).
// The contract is shared/spec/cli.md; docs/ has the details.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `usage: matmix <command> [flags]

commands:
  run      monarch|gla|w4a4|spgemm   run one workload on .npy / .mtx files
  bench    monarch|gla|w4a4|spgemm|sgemm|all   time a workload, with energy where a meter exists
  devices  list GPUs, the CPU and the energy meters available
Run 'matmix <command> -h' for a command's flags.`

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the command line and returns the exit status. Every error is
// printed as one line starting "matmix:".
func Main(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fmt.Fprintln(stderr, "matmix: "+oneLine(err.Error()))
	return 1
}

var errUsage = errors.New("usage")

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "devices":
		return devicesCmd(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (want run, bench or devices)", args[0])
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
