// Package sched is matmix's runtime: it runs Monarch, GLA, W4A4 and SpGEMM
// workloads asynchronously on the streams of one or more devices (engines).
//
//   - Submit queues a workload and returns a Future (Wait, Err, Done, Record).
//   - A Graph names other nodes' outputs as a node's inputs; Start/Run run it
//     in dependency order with independent branches concurrent, failures
//     propagating to every dependent as a DepError.
//   - Each device has a pool of streams, ordered executors; a Policy
//     (least-loaded, round-robin) or an explicit OnStream places the work.
//   - A device's Memory (a mempool.Pool) reserves each workload's buffers.
//   - Records time every workload; WriteTrace draws them for Perfetto.
//
// docs/runtime.md describes the model.
package sched
