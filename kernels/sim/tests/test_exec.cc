// The execution model: built-ins, barriers, warp shuffles and votes, atomics, dynamic shared memory,
// cp.async, and the faults of synchronization (divergent collectives and barriers).
#include "../../include/mm_cuda.h"
#include "check.h"

using simtest::Buf;

namespace {

__global__ void k_builtins(int* out) {
  const int b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int nt = blockDim.x * blockDim.y * blockDim.z;
  out[b * nt + t] = b * 1000 + t;
}

TEST(builtins_number_every_block_and_thread) {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  Buf<int> out(12 * 30);
  out.fill(-1);
  EXPECT_OK(mmsim::launch("k_builtins", grid, block, 0, [&] { k_builtins(out.p); }));
  for (int b = 0; b < 12; b++)
    for (int t = 0; t < 30; t++) CHECK(out[b * 30 + t] == b * 1000 + t);
}

// Shuffle expectations, written from CUDA's definitions: the source lane, or -1 for "own value".
int expect_src(int kind, int lane, int arg, int width) {
  const int seg = lane / width * width;
  if (kind == 0) return seg + arg % width;
  if (kind == 1) return lane - seg >= arg ? lane - arg : -1;
  if (kind == 2) return lane - seg + arg < width ? lane + arg : -1;
  const int s = lane ^ arg;
  return s < seg + width ? s : -1;
}

__global__ void k_shuffles(const float* in, float* out, int* iout) {
  const int t = threadIdx.x;
  const float v = in[t];
  out[0 * 64 + t] = __shfl_sync(0xffffffffu, v, 5);
  out[1 * 64 + t] = __shfl_up_sync(0xffffffffu, v, 3, 16);
  out[2 * 64 + t] = __shfl_down_sync(0xffffffffu, v, 2, 8);
  out[3 * 64 + t] = __shfl_xor_sync(0xffffffffu, v, 1);
  out[4 * 64 + t] = __shfl_xor_sync(0xffffffffu, v, 16);
  const long long big = (long long)t << 40 | t;
  const long long got = __shfl_sync(0xffffffffu, big, 31 - (t % 32));
  iout[t] = int(got >> 40) == (t / 32) * 32 + 31 - (t % 32) ? 1 : 0;
}

TEST(shuffles_follow_cuda_semantics) {
  Buf<float> in(64), out(5 * 64);
  Buf<int> iout(64);
  for (int i = 0; i < 64; i++) in[i] = simtest::uniform(-10, 10);
  out.fill(NAN);
  EXPECT_OK(mmsim::launch("k_shuffles", 1, 64, 0, [&] { k_shuffles(in.p, out.p, iout.p); }));
  const int kinds[5] = {0, 1, 2, 3, 3}, args[5] = {5, 3, 2, 1, 16}, widths[5] = {32, 16, 8, 32, 32};
  for (int c = 0; c < 5; c++)
    for (int t = 0; t < 64; t++) {
      const int lane = t % 32, src = expect_src(kinds[c], lane, args[c], widths[c]);
      const float want = in[(t / 32) * 32 + (src < 0 ? lane : src)];
      CHECK_MSG(out[c * 64 + t] == want, "case " + std::to_string(c) + " thread " + std::to_string(t));
    }
  for (int t = 0; t < 64; t++) CHECK(iout[t] == 1);
}

__global__ void k_votes(int* out) {
  const int t = threadIdx.x, lane = t % 32;
  out[0 * 64 + t] = int(__ballot_sync(0xffffffffu, lane % 3 == 0));
  out[1 * 64 + t] = __any_sync(0xffffffffu, t == 40);
  out[2 * 64 + t] = __all_sync(0xffffffffu, t < 40);
  out[3 * 64 + t] = __reduce_add_sync(0xffffffffu, t);
  out[4 * 64 + t] = __reduce_min_sync(0xffffffffu, 100 - t);
  out[5 * 64 + t] = __reduce_max_sync(0xffffffffu, unsigned(t * 7 % 13));
  // Two half-warp groups at different sites with disjoint masks: legal, each completes alone.
  if (lane < 16)
    out[6 * 64 + t] = __shfl_sync(0x0000ffffu, t, 0);
  else
    out[6 * 64 + t] = __shfl_sync(0xffff0000u, t, 16);
}

TEST(votes_reductions_and_disjoint_masks) {
  Buf<int> out(7 * 64);
  EXPECT_OK(mmsim::launch("k_votes", 1, 64, 0, [&] { k_votes(out.p); }));
  unsigned ballot = 0;
  for (int l = 0; l < 32; l++)
    if (l % 3 == 0) ballot |= 1u << l;
  for (int t = 0; t < 64; t++) {
    const int w = t / 32;
    int sum = 0, mn = 1 << 30, mx = 0;
    for (int u = w * 32; u < w * 32 + 32; u++) sum += u, mn = std::min(mn, 100 - u), mx = std::max(mx, u * 7 % 13);
    CHECK(unsigned(out[t]) == ballot);
    CHECK(out[64 + t] == (w == 1));
    CHECK(out[128 + t] == (w == 0));
    CHECK(out[192 + t] == sum);
    CHECK(out[256 + t] == mn);
    CHECK(out[320 + t] == mx);
    CHECK(out[384 + t] == (t % 32 < 16 ? w * 32 : w * 32 + 16));
  }
}

// A partial last warp (48 threads): a full mask names lanes that do not exist, which CUDA allows
// (only non-exited threads named in the mask take part); reading such a lane is a fault.
__global__ void k_partial_warp(int* out, int src) {
  const int t = threadIdx.x;
  out[t] = __shfl_sync(0xffffffffu, t, src);
}

TEST(partial_warp_collectives) {
  Buf<int> out(48);
  EXPECT_OK(mmsim::launch("k_partial_warp", 1, 48, 0, [&] { k_partial_warp(out.p, 3); }));
  for (int t = 0; t < 48; t++) CHECK(out[t] == (t / 32) * 32 + 3);
  EXPECT_FAULT(mmsim::launch("k_partial_warp", 1, 48, 0, [&] { k_partial_warp(out.p, 20); }), "__shfl_sync",
               "reads lane 20, which does not take part");
}

__global__ void k_barrier_reductions(int* out) {
  const int t = threadIdx.x;
  out[0 * 96 + t] = __syncthreads_count(t % 5 == 0);
  out[1 * 96 + t] = __syncthreads_and(t < 96);
  out[2 * 96 + t] = __syncthreads_and(t != 50);
  out[3 * 96 + t] = __syncthreads_or(t == 95);
  out[4 * 96 + t] = __syncthreads_or(0);
}

TEST(barrier_reductions) {
  Buf<int> out(5 * 96);
  EXPECT_OK(mmsim::launch("k_barrier_reductions", 1, 96, 0, [&] { k_barrier_reductions(out.p); }));
  for (int t = 0; t < 96; t++) {
    CHECK(out[t] == 20);
    CHECK(out[96 + t] == 1);
    CHECK(out[192 + t] == 0);
    CHECK(out[288 + t] == 1);
    CHECK(out[384 + t] == 0);
  }
}

__global__ void k_global_atomics(int* counter, float* fsum, int* mx, unsigned* bits, int* cas, unsigned* misc) {
  const int t = threadIdx.x + blockIdx.x * blockDim.x;
  atomicSub(&misc[0], 2u);
  atomicMin(&misc[1], unsigned(1000 + (t * 37) % 101));
  atomicAnd(&misc[2], ~(1u << (t % 32)));
  atomicXor(&misc[3], 1u << (t % 8));
  atomicInc(&misc[4], 9u);
  if (t == 77) atomicExch(&misc[5], 77u);
  atomicAdd(counter, 1);
  atomicAdd(fsum, 0.5f);
  atomicMax(mx, (t * 37) % 101);
  atomicOr(bits, 1u << (t % 32));
  int old = *cas, assumed;
  do {  // the classic CAS loop
    assumed = old;
    old = atomicCAS(cas, assumed, assumed + 2);
  } while (old != assumed);
}

TEST(global_atomics) {
  Buf<int> counter(1), mx(1), cas(1);
  Buf<float> fsum(1);
  Buf<unsigned> bits(1), misc(6);
  counter[0] = 7, fsum[0] = 1.0f, mx[0] = -1, bits[0] = 0, cas[0] = 3;
  misc[0] = 1000, misc[1] = 5000, misc[2] = 0xffffffffu, misc[3] = 0, misc[4] = 0, misc[5] = 1;
  EXPECT_OK(mmsim::launch("k_global_atomics", 4, 96, 0,
                          [&] { k_global_atomics(counter.p, fsum.p, mx.p, bits.p, cas.p, misc.p); }));
  CHECK(misc[0] == 1000u - 2 * 384);
  CHECK(misc[1] == 1000u);
  CHECK(misc[2] == 0u);
  CHECK(misc[3] == 0u);          // each bit flipped 48 times
  CHECK(misc[4] == 384u % 10);   // wraps to 0 after 9
  CHECK(misc[5] == 77u);
  CHECK(counter[0] == 7 + 384);
  CHECK(fsum[0] == 1.0f + 192.0f);
  CHECK(mx[0] == 100);
  CHECK(bits[0] == 0xffffffffu);
  CHECK(cas[0] == 3 + 2 * 384);
}

// A shared histogram: atomics between barriers are not races; reading before the barrier is.
__global__ void k_histogram(const int* keys, int* out, bool barrier_before_read) {
  MM_SHARED(int, hist, 8);
  const int t = threadIdx.x;
  if (t < 8) hist[t] = 0;
  __syncthreads();
  atomicAdd(&hist[keys[t]], 1);
  if (barrier_before_read) __syncthreads();
  if (t < 8) out[t] = hist[t];
}

TEST(shared_atomics_and_their_race) {
  Buf<int> keys(128), out(8);
  int want[8] = {};
  for (int i = 0; i < 128; i++) keys[i] = int(simtest::rng()() % 8), want[keys[i]]++;
  EXPECT_OK(mmsim::launch("k_histogram", 1, 128, 0, [&] { k_histogram(keys.p, out.p, true); }));
  for (int i = 0; i < 8; i++) CHECK(out[i] == want[i]);
  EXPECT_FAULT(mmsim::launch("k_histogram", 1, 128, 0, [&] { k_histogram(keys.p, out.p, false); }),
               "race on shared 'hist'", "atomically", "missing __syncthreads");
}

// PLANTED FAULT: reading shared memory before the barrier that guards it.
__global__ void k_neighbor(float* out, bool with_barrier) {
  MM_SHARED(float, tile, 128);
  const int t = threadIdx.x;
  tile[t] = float(t) * 2.0f;
  if (with_barrier) __syncthreads();
  out[t] = tile[(t + 1) % 128];
}

TEST(planted_missing_barrier_is_a_race) {
  Buf<float> out(128);
  EXPECT_OK(mmsim::launch("k_neighbor", 1, 128, 0, [&] { k_neighbor(out.p, true); }));
  for (int t = 0; t < 128; t++) CHECK(out[t] == float((t + 1) % 128) * 2.0f);
  const auto r = mmsim::launch("k_neighbor", 1, 128, 0, [&] { k_neighbor(out.p, false); });
  EXPECT_FAULT(r, "kernel k_neighbor block (0,0,0) thread (1,0,0)", "race on shared 'tile' byte 4",
               "writes it after thread (0,0,0) read it", "missing __syncthreads");
  // Deterministic: the same run reports the same fault.
  CHECK(mmsim::launch("k_neighbor", 1, 128, 0, [&] { k_neighbor(out.p, false); }).error == r.error);
}

// Warp-synchronous exchange: __syncwarp orders accesses within a warp, not across warps.
__global__ void k_warp_exchange(int* out, int mode) {
  MM_SHARED(int, s, 64);
  const int t = threadIdx.x;
  s[t] = t * 3;
  if (mode != 0) __syncwarp();
  out[t] = mode == 2 ? s[(t + 32) % 64] : s[t ^ 1];
}

TEST(syncwarp_orders_lanes_of_one_warp_only) {
  Buf<int> out(64);
  EXPECT_OK(mmsim::launch("k_warp_exchange", 1, 64, 0, [&] { k_warp_exchange(out.p, 1); }));
  for (int t = 0; t < 64; t++) CHECK(out[t] == (t ^ 1) * 3);
  EXPECT_FAULT(mmsim::launch("k_warp_exchange", 1, 64, 0, [&] { k_warp_exchange(out.p, 0); }), "race on shared 's'");
  EXPECT_FAULT(mmsim::launch("k_warp_exchange", 1, 64, 0, [&] { k_warp_exchange(out.p, 2); }), "race on shared 's'",
               "thread (0,0,0) reads it after thread (32,0,0) wrote it");
}

__global__ void k_divergent_shfl(int* out) {
  const int lane = threadIdx.x % 32;
  int v;
  if (lane < 16)
    v = __shfl_sync(0xffffffffu, lane, 0);
  else
    v = __shfl_sync(0xffffffffu, lane, 1);
  out[threadIdx.x] = v;
}

TEST(divergent_warp_collective_is_a_fault) {
  Buf<int> out(32);
  EXPECT_FAULT(mmsim::launch("k_divergent_shfl", 1, 32, 0, [&] { k_divergent_shfl(out.p); }),
               "divergent warp collective in warp 0", "lane 0 waits at __shfl_sync at test_exec.cc",
               "but lane 16 waits at __shfl_sync at test_exec.cc");
}

__global__ void k_collective_vs_barrier(int* out) {
  const int t = threadIdx.x;
  if (t < 16)
    out[t] = __shfl_sync(0xffffffffu, t, 0);
  else
    __syncthreads();
}

TEST(collective_against_barrier_is_a_fault) {
  Buf<int> out(32);
  EXPECT_FAULT(mmsim::launch("k_collective_vs_barrier", 1, 32, 0, [&] { k_collective_vs_barrier(out.p); }),
               "lane 16 waits at __syncthreads");
}

__global__ void k_barriers(int mode) {
  const int t = threadIdx.x;
  if (mode == 0) {  // barrier inside a condition that splits the block
    if (t < 32) __syncthreads();
  } else if (mode == 1) {  // a thread returns early, the rest meet at a barrier
    if (t == 0) return;
    __syncthreads();
  } else {  // every thread reaches a barrier, but not the same one
    if (t < 32)
      __syncthreads();
    else
      __syncthreads();
  }
}

TEST(divergent_barriers_are_faults) {
  EXPECT_FAULT(mmsim::launch("k_barriers", 1, 64, 0, [] { k_barriers(0); }), "thread (32,0,0): exited while thread",
               "must reach each barrier");
  EXPECT_FAULT(mmsim::launch("k_barriers", 1, 64, 0, [] { k_barriers(1); }), "thread (1,0,0)",
               "reached after thread (0,0,0) exited");
  EXPECT_FAULT(mmsim::launch("k_barriers", 1, 64, 0, [] { k_barriers(2); }), "divergent barrier",
               "__syncthreads at test_exec.cc");
}

__global__ void k_shared_oob(float* out, int kind) {
  MM_SHARED(float, t64, 64);
  MM_DYNAMIC_SHARED(float, dyn);
  const int t = threadIdx.x;
  if (kind == 0) t64[t + 1] = 1.0f;
  if (kind == 1) dyn[t] = 2.0f;
  if (kind == 2) {
    MM_SHARED(float, big, 13000);
    big[t] = 3.0f;
  }
  out[t] = 0.0f;
}

TEST(shared_out_of_bounds_and_limits) {
  Buf<float> out(64);
  EXPECT_FAULT(mmsim::launch("k_shared_oob", 1, 64, 0, [&] { k_shared_oob(out.p, 0); }), "thread (63,0,0)",
               "shared 't64' out of bounds: write of 4 bytes at byte offset 256 (array of 256 bytes)");
  EXPECT_OK(mmsim::launch("k_shared_oob", 1, 64, 256, [&] { k_shared_oob(out.p, 1); }));
  EXPECT_FAULT(mmsim::launch("k_shared_oob", 1, 64, 252, [&] { k_shared_oob(out.p, 1); }),
               "dynamic shared 'dyn' out of bounds", "byte offset 252");
  EXPECT_FAULT(mmsim::launch("k_shared_oob", 1, 64, 0, [&] { k_shared_oob(out.p, 2); }), "exceeds 48 KiB");
  EXPECT_FAULT(mmsim::launch("k_shared_oob", 1, 64, 300 * 1024, [&] { k_shared_oob(out.p, 1); }),
               "dynamic shared memory exceed the limit");
  mmsim::set_max_dynamic_smem(1024);
  EXPECT_FAULT(mmsim::launch("k_shared_oob", 1, 64, 2048, [&] { k_shared_oob(out.p, 1); }), "exceed the limit of 1024");
  CHECK(mmsim_set_limits(300 * 1024) != 0);
  CHECK(mmsim_set_limits(mmsim::kSmemPerBlockLimit) == 0);
}

TEST(invalid_launch_dimensions) {
  EXPECT_FAULT(mmsim::launch("k", 1, dim3(1025), 0, [] {}), "exceeds 1024 threads");
  EXPECT_FAULT(mmsim::launch("k", 1, dim3(1, 1, 65), 0, [] {}), "per-dimension limits");
  EXPECT_FAULT(mmsim::launch("k", dim3(1, 65536), 1, 0, [] {}), "grid exceeds");
  EXPECT_FAULT(mmsim::launch("k", dim3(0), 1, 0, [] {}), "zero grid or block dimension");
}

// Shared memory starts as garbage in every block, as on hardware (0xff: NaN).
__global__ void k_fresh_shared(float* out) {
  MM_SHARED(float, s, 4);
  if (threadIdx.x == 0) {
    out[blockIdx.x] = s[0];
    s[0] = 1.0f;
  }
}

TEST(shared_memory_is_uninitialized_per_block) {
  Buf<float> out(3);
  out.fill(0.0f);
  EXPECT_OK(mmsim::launch("k_fresh_shared", 3, 32, 0, [&] { k_fresh_shared(out.p); }));
  for (int b = 0; b < 3; b++) CHECK(std::isnan(out[b]));
}

// cp.async: copies land at wait (not at issue); zero-fill; other threads read after a barrier.
__global__ void k_cp_async(const float* src, float* out, bool barrier) {
  MM_SHARED_ALIGNED(float, s, 256, 16);
  const int t = threadIdx.x;  // 32 threads, 8 floats each in two groups
  mm::cp_async_16(s + 8 * t, src + 8 * t);
  mm::cp_async_commit();
  mm::cp_async_16_zfill(s + 8 * t + 4, src + 8 * t + 4, t % 2 == 0);
  mm::cp_async_commit();
  const float early = s[8 * t];  // no group has completed: still the uninitialized value
  mm::cp_async_wait<1>();
  const float mid_first = s[8 * t], mid_second = s[8 * t + 4];
  mm::cp_async_wait_all();
  if (barrier) __syncthreads();
  out[t] = early;
  out[32 + t] = mid_first;
  out[64 + t] = mid_second;
  for (int i = 0; i < 8; i++) out[96 + 8 * t + i] = s[(8 * t + 8 + i) % 256];
}

TEST(cp_async_groups_and_zero_fill) {
  Buf<float> src(256), out(96 + 256);
  for (int i = 0; i < 256; i++) src[i] = simtest::uniform(-1, 1);
  EXPECT_OK(mmsim::launch("k_cp_async", 1, 32, 0, [&] { k_cp_async(src.p, out.p, true); }));
  for (int t = 0; t < 32; t++) {
    CHECK(std::isnan(out[t]));
    CHECK(out[32 + t] == src[8 * t]);
    CHECK(std::isnan(out[64 + t]));
    for (int i = 0; i < 8; i++) {
      const int e = (8 * t + 8 + i) % 256;
      const bool zero = (e % 8) >= 4 && (e / 8) % 2 == 1;
      CHECK(out[96 + 8 * t + i] == (zero ? 0.0f : src[e]));
    }
  }
  EXPECT_FAULT(mmsim::launch("k_cp_async", 1, 32, 0, [&] { k_cp_async(src.p, out.p, false); }), "race on shared 's'");
}

// A fault in one thread while the others wait at a barrier: every fiber unwinds (LeakSanitizer
// checks nothing leaks) and later launches work.
__global__ void k_fault_while_waiting(float* out) {
  MM_SHARED(float, s, 32);
  if (threadIdx.x == 40) s[32] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

TEST(fault_unwinds_waiting_threads) {
  Buf<float> out(64);
  EXPECT_FAULT(mmsim::launch("k_fault_while_waiting", 2, 64, 0, [&] { k_fault_while_waiting(out.p); }),
               "block (0,0,0) thread (40,0,0)", "out of bounds");
  EXPECT_OK(mmsim::launch("k_builtins", 1, 1, 0, [&] { *out.p = 0; }));
}

}  // namespace
