// Package bench times matmix workloads and measures their energy: the
// harness behind `matmix bench`.
//
// For each configuration (a Case) the harness prepares fresh random inputs,
// checks the backend's result against the float64 reference of package
// engine/ref (on a cheap subset when the whole problem is too big for the
// reference), warms up, then takes samples until their relative noise falls
// under a threshold, with a minimum number of samples, a minimum total time
// and a timeout (nvbench's rule and defaults). Where an energy meter works
// it then measures the energy of one run in a counter window lengthened by
// repetition, with the idle power measured beforehand subtracted too.
// docs/benchmarking.md explains the method and every figure.
package bench
