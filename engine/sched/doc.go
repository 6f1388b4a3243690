// Package sched is matmix's runtime: it runs Monarch, GLA, W4A4 and SpGEMM
// workloads asynchronously on the streams of one or more devices (engines).
//
//   - Submit queues a workload and returns a Future (Wait, Err, Done, Record).
//   - A Graph names other nodes' outputs as a node's inputs; Start/Run run it
//     in dependency order with independent branches concurrent, failures
//     propagating to every dependent as a DepError.
//   - Each device has a pool of streams, ordered executors; a Policy
//     (least-loaded, round-robin) or an explicit OnStream places the work.
//     The stream index reaches the backend in the context
//     (backend.WithStream): the CUDA backend runs each index on a device
//     stream of its own.
//   - A device's Memory (a mempool.Pool) reserves each workload's buffers,
//     unless it is the backend's own pool (BackendMemory), which the
//     backend allocates from itself.
//   - Records time every workload, on the host and, where the backend
//     measures it with device events (backend.WithTiming), on the device;
//     WriteTrace draws them for Perfetto.
//
// docs/runtime.md describes the model.
package sched
