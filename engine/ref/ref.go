// Package ref holds the float64 reference implementations of the four
// workloads: plain loops written to be obviously correct, straight from the
// definitions in docs/workloads.md. The CPU backend runs them for float64
// inputs and every other backend is tested against them.
package ref
