// The simulator's runtime interface: what the kernel-side headers call (thread identity, barriers,
// warp rendezvous, faults, shared-memory regions) and the C++ launch API used by tests and by mmsim.h.
// Implementation: runtime.cc. Execution model: README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <source_location>
#include <string>

#include "types.h"

namespace mmsim {

using Loc = std::source_location;

// A call site of a synchronizing operation; threads meet only at the same site.
struct Site {
  const char* what = "";
  const char* file = "";
  unsigned line = 0;
  unsigned col = 0;
  static Site at(const char* what, const Loc& l) { return {what, l.file_name(), unsigned(l.line()), unsigned(l.column())}; }
  bool same(const Site& o) const;
  std::string str() const;  // "__shfl_sync at gla.cu:40:9"
};

class Region;  // a tracked shared-memory array (shared.h)

// Thrown on a fiber's own stack to unwind it after a fault; never escapes the simulator.
struct Unwind {};

namespace rt {

const uint3& thread_idx();
const uint3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();
int linear_tid();  // x + y*bx + z*bx*by, as CUDA numbers threads into warps
int lane();
unsigned live_lanes();  // lanes of the calling warp that exist and have not exited

// Records "kernel K block B thread T: msg" as the launch's fault (the first one wins) and unwinds.
[[noreturn]] void fail(const std::string& msg);
[[noreturn]] void fail_as(int linear_tid, const std::string& msg);
std::string thread_name(int linear_tid);  // "(x,y,z)"

// __syncthreads and its reductions: op 0 none, 1 count, 2 and, 3 or.
int barrier(const Site& site, int op, int value);

// A warp rendezvous: blocks until every non-exited lane named in mask has called warp_op at the same
// site (any __syncwarp site when any_site) with the same mask; then the last arriving lane runs
// combine once for all participants, and each lane gets its out. Mismatches are faults.
using Combine = void (*)(const void* fn, const void* const* in, void* const* out, unsigned participants, int warp_base);
void warp_op(const Site& site, unsigned mask, const void* in, size_t in_size, void* out, size_t out_size,
             Combine combine, const void* fn, bool any_site = false);

// Shared memory of the running block: a static array keyed by its declaration, or the dynamic one.
Region* static_region(const void* tag, size_t bytes, size_t align, const char* name);
Region* dynamic_region(const char* name);

// cp.async: queue a copy into shared memory; commit/wait follow PTX's group semantics.
void async_copy(Region* dst, int64_t dst_off, const void* src, int bytes, int src_bytes, const char* what);
void async_commit();
void async_wait(int pending_groups);

}  // namespace rt

// ---- C++ host API (tests and the C ABI use it) ----
struct LaunchResult {
  bool ok = true;
  std::string error;  // one line; empty when ok
};

// Runs body as the kernel of every thread of every block (blocks in order x, y, z; threads as fibers).
LaunchResult launch(const char* name, dim3 grid, dim3 block, size_t dyn_smem, const std::function<void()>& body);

enum class Poison { Auto, Off };
// Device memory: guard zones before and after; poisoned for AddressSanitizer unless Poison::Off
// (tests use Off to exercise the guard-zone check that non-ASan builds rely on).
void* device_malloc(size_t bytes, Poison poison = Poison::Auto);
LaunchResult device_free(void* p);
LaunchResult check_guards(const char* context);
void set_max_dynamic_smem(size_t bytes);
size_t max_dynamic_smem();
constexpr size_t kStaticSmemLimit = 48 * 1024;      // CUDA's limit for static __shared__
constexpr size_t kSmemPerBlockLimit = 227 * 1024;   // sm_90's opt-in maximum (static + dynamic)
constexpr size_t kGuardBytes = 256;

}  // namespace mmsim
