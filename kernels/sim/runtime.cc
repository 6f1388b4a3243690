// The simulator's runtime: launches, fibers, barriers and warp rendezvous, shared-memory tracking,
// device allocations with guard zones, the kernel registry and the C ABI (mmsim.h).
// Design notes: README.md.
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "mmsim.h"
#include "runtime.h"
#include "shared.h"

#if defined(__SANITIZE_ADDRESS__)
#define MMSIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MMSIM_ASAN 1
#endif
#endif
#ifndef MMSIM_ASAN
#define MMSIM_ASAN 0
#endif

#if MMSIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace mmsim {

namespace {

// ---------------------------------------------------------------------------------------------
// Fiber stacks. ASan needs bigger frames; a PROT_NONE page below each stack turns an overflow into
// a crash instead of silent corruption.
constexpr size_t kStackBytes = MMSIM_ASAN ? 512 * 1024 : 192 * 1024;

void asan_start_switch(void** fake_save, const void* bottom, size_t size) {
#if MMSIM_ASAN
  __sanitizer_start_switch_fiber(fake_save, bottom, size);
#else
  (void)fake_save, (void)bottom, (void)size;
#endif
}
void asan_finish_switch(void* fake_save, const void** old_bottom, size_t* old_size) {
#if MMSIM_ASAN
  __sanitizer_finish_switch_fiber(fake_save, old_bottom, old_size);
#else
  (void)fake_save, (void)old_bottom, (void)old_size;
#endif
}

std::string hex(uint64_t v, int width = 0) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%0*" PRIx64, width, v);
  return b;
}
std::string ptr_str(const void* p) { return hex(reinterpret_cast<uintptr_t>(p)); }

enum class State : uint8_t { Ready, Waiting, Done };
enum class Wait : uint8_t { None, Barrier, Warp };

struct AsyncCopy {
  Region* dst;
  int64_t off;
  const void* src;
  int bytes, src_bytes;
};

struct Thread {
  int linear = 0, warp = 0, lane = 0;
  uint3 idx{};
  State state = State::Ready;
  Wait wait = Wait::None;
  Site site;
  // warp rendezvous: this lane's request (pointers into its own suspended frame)
  unsigned mask = 0;
  bool any_site = false;
  const void* in = nullptr;
  void* out = nullptr;
  rt::Combine combine = nullptr;
  const void* fn = nullptr;
  // barrier
  int bar_op = 0, bar_value = 0, bar_result = 0;
  // cp.async: queued copies and the end index of each committed group
  std::vector<AsyncCopy> copies;
  std::vector<size_t> group_ends;
  // fiber
  ucontext_t ctx{};
  char* stack = nullptr;
  void* fake_stack = nullptr;
};

struct Warp {
  unsigned exists = 0, exited = 0;
  uint32_t pair[32][32];  // sync stamp of the last __syncwarp that included both lanes
};

// One running grid. Blocks run one after another on the launching host thread.
struct Launch {
  std::string kernel;
  dim3 grid, block;
  size_t dyn_smem = 0;
  const std::function<void()>* body = nullptr;
  bool failed = false;
  std::string fault;

  uint32_t interval_counter = 0;  // barrier intervals, launch-wide
  uint32_t sync_counter = 0;      // completed __syncwarp calls, launch-wide
  uint64_t block_serial = 0;

  std::vector<std::unique_ptr<Region>> statics;
  size_t static_bytes = 0;
  std::unique_ptr<Region> dynamic;

  // the current block
  uint3 bidx{};
  int nthreads = 0;
  std::vector<Thread> threads;
  std::vector<Warp> warps;
  uint32_t interval = 0;
  bool cancel = false;
  int exited = 0;
  int at_barrier = 0;
  Thread* cur = nullptr;

  // fibers
  ucontext_t sched{};
  const void* sched_bottom = nullptr;
  size_t sched_size = 0;
  char* stacks = nullptr;
  size_t stacks_bytes = 0;
};

thread_local Launch* g_launch = nullptr;

Launch& launch_state() {
  if (!g_launch) {
    std::fprintf(stderr, "mmsim: a CUDA built-in or shared-memory access was used outside a kernel launch\n");
    std::abort();
  }
  return *g_launch;
}
Thread& cur() {
  Launch& L = launch_state();
  if (!L.cur) {
    std::fprintf(stderr, "mmsim: no current simulated thread\n");
    std::abort();
  }
  return *L.cur;
}

std::string tid_str(const Launch& L, int linear) {
  const unsigned bx = L.block.x, by = L.block.y;
  const unsigned x = unsigned(linear) % bx, y = (unsigned(linear) / bx) % by, z = unsigned(linear) / (bx * by);
  return "(" + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + ")";
}

// Records the launch's fault (the first wins) and cancels the block; does not unwind.
void record_fault(Launch& L, int linear, const std::string& msg) {
  if (!L.failed) {
    L.failed = true;
    L.fault = "kernel " + L.kernel + " block (" + std::to_string(L.bidx.x) + "," + std::to_string(L.bidx.y) + "," +
              std::to_string(L.bidx.z) + ") thread " + tid_str(L, linear) + ": " + msg;
  }
  L.cancel = true;
}

void check_cancel(Launch& L) {
  if (L.cancel) throw Unwind{};
}

// Back to the scheduler; returns when the scheduler resumes this thread.
void yield(Launch& L, Thread& t) {
  asan_start_switch(&t.fake_stack, L.sched_bottom, L.sched_size);
  swapcontext(&t.ctx, &L.sched);
  asan_finish_switch(t.fake_stack, &L.sched_bottom, &L.sched_size);
}

// ---------------------------------------------------------------------------------------------
// Warp rendezvous.

Thread* lane_thread(Launch& L, int warp, int lane) {
  const int linear = warp * 32 + lane;
  return linear < L.nthreads ? &L.threads[size_t(linear)] : nullptr;
}

bool same_request(const Thread& a, const Thread& b) {
  if (b.state != State::Waiting || b.wait != Wait::Warp || a.mask != b.mask) return false;
  return a.any_site ? b.any_site : (!b.any_site && a.site.same(b.site));
}

// Completes the rendezvous lane `lane` of `warp` waits in, if every lane it needs has arrived.
void try_complete(Launch& L, int warp, int lane) {
  Thread& t = *lane_thread(L, warp, lane);
  if (t.state != State::Waiting || t.wait != Wait::Warp) return;
  Warp& W = L.warps[size_t(warp)];
  const unsigned parts = t.mask & W.exists & ~W.exited;
  const void* ins[32] = {};
  void* outs[32] = {};
  for (int u = 0; u < 32; u++) {
    if (!(parts >> u & 1)) continue;
    Thread& o = *lane_thread(L, warp, u);
    if (!same_request(t, o)) return;
    ins[u] = o.in;
    outs[u] = o.out;
  }
  t.combine(t.fn, ins, outs, parts, warp * 32);
  if (t.any_site) {  // __syncwarp: orders the memory accesses of every pair of participants
    const uint32_t stamp = ++L.sync_counter;
    for (int a = 0; a < 32; a++)
      if (parts >> a & 1)
        for (int b = 0; b < 32; b++)
          if (parts >> b & 1) W.pair[a][b] = stamp;
  }
  for (int u = 0; u < 32; u++)
    if (parts >> u & 1) {
      Thread& o = *lane_thread(L, warp, u);
      o.state = State::Ready;
      o.wait = Wait::None;
    }
}

std::string wait_str(const Thread& t) {
  if (t.state == State::Done) return "has exited";
  if (t.wait == Wait::Barrier) return "waits at " + t.site.str();
  if (t.wait == Wait::Warp) return "waits at " + t.site.str() + " with mask " + hex(t.mask, 8);
  return "is running";
}

// Every unfinished thread waits and none can go on: describe the first stuck rendezvous.
std::string deadlock_message(Launch& L, int* who) {
  for (Thread& t : L.threads) {
    if (t.state != State::Waiting) continue;
    *who = t.linear;
    if (t.wait == Wait::Warp) {
      const Warp& W = L.warps[size_t(t.warp)];
      const unsigned need = t.mask & W.exists & ~W.exited;
      for (int u = 0; u < 32; u++)
        if ((need >> u & 1) && !same_request(t, *lane_thread(L, t.warp, u)))
          return "divergent warp collective in warp " + std::to_string(t.warp) + ": lane " + std::to_string(t.lane) +
                 " waits at " + t.site.str() + " with mask " + hex(t.mask, 8) + " but lane " + std::to_string(u) + " " +
                 wait_str(*lane_thread(L, t.warp, u));
    } else {
      for (Thread& o : L.threads)
        if (o.state != State::Waiting || o.wait != Wait::Barrier)
          return "divergent barrier: thread " + tid_str(L, t.linear) + " waits at " + t.site.str() + " but thread " +
                 tid_str(L, o.linear) + " " + wait_str(o);
    }
    return "deadlock at " + t.site.str();
  }
  *who = 0;
  return "deadlock";
}

// ---------------------------------------------------------------------------------------------
// Thread lifecycle.

void perform_copy(Thread& t, const AsyncCopy& c) {
  c.dst->check(c.off, size_t(c.bytes), 1, Access::Write, t.linear);
  if (c.src_bytes > 0) std::memcpy(c.dst->data() + c.off, c.src, size_t(c.src_bytes));
  if (c.src_bytes < c.bytes) std::memset(c.dst->data() + c.off + c.src_bytes, 0, size_t(c.bytes - c.src_bytes));
}

void on_exit(Launch& L, Thread& t) {
  if (!L.cancel) {  // outstanding cp.async copies land before the thread is gone
    for (const AsyncCopy& c : t.copies) perform_copy(t, c);
  }
  t.copies.clear();
  t.group_ends.clear();
  Warp& W = L.warps[size_t(t.warp)];
  W.exited |= 1u << t.lane;
  L.exited++;
  t.state = State::Done;
  if (L.cancel) return;
  if (L.at_barrier > 0) {
    for (Thread& o : L.threads)
      if (o.state == State::Waiting && o.wait == Wait::Barrier) {
        record_fault(L, t.linear,
                     "exited while thread " + tid_str(L, o.linear) + " waits at " + o.site.str() +
                         ": every thread of the block must reach each barrier");
        return;
      }
  }
  for (int u = 0; u < 32; u++) {  // an exited lane no longer holds back its warp's collectives
    if (L.cancel) return;
    Thread* o = lane_thread(L, t.warp, u);
    if (o && o->state == State::Waiting && o->wait == Wait::Warp) try_complete(L, t.warp, u);
  }
}

void fiber_main() {
  Launch& L = *g_launch;
  Thread& t = *L.cur;
  asan_finish_switch(nullptr, &L.sched_bottom, &L.sched_size);
  try {
    if (!L.cancel) (*L.body)();
  } catch (const Unwind&) {
  } catch (const std::exception& e) {
    record_fault(L, t.linear, std::string("exception: ") + e.what());
  } catch (...) {
    record_fault(L, t.linear, "unknown exception");
  }
  try {
    on_exit(L, t);
  } catch (const Unwind&) {
  } catch (...) {
    record_fault(L, t.linear, "simulator error at thread exit");
  }
  t.state = State::Done;
  asan_start_switch(nullptr, L.sched_bottom, L.sched_size);  // this fiber's stack is finished
  setcontext(&L.sched);
  std::abort();  // unreachable
}

// Once per thread and launch: a context saved by swapcontext can be made again for the next block.
// Out of line: getcontext returns twice, which would clobber the caller's locals.
__attribute__((noinline)) void init_context(Thread& t) { getcontext(&t.ctx); }

void run_block(Launch& L) {
  L.block_serial++;
  L.interval = ++L.interval_counter;
  L.cancel = false;
  L.exited = 0;
  L.at_barrier = 0;
  for (Warp& W : L.warps) {
    W.exited = 0;
    std::memset(W.pair, 0, sizeof W.pair);
  }
  for (Thread& t : L.threads) {
    t.state = State::Ready;
    t.wait = Wait::None;
    t.copies.clear();
    t.group_ends.clear();
    t.fake_stack = nullptr;
    t.ctx.uc_stack.ss_sp = t.stack;
    t.ctx.uc_stack.ss_size = kStackBytes;
    t.ctx.uc_link = nullptr;
    makecontext(&t.ctx, fiber_main, 0);
  }
  if (L.dynamic) {
    L.dynamic->fill_uninitialized();
    L.dynamic->block_serial = L.block_serial;
  }
  for (;;) {
    bool ran = false, done = true;
    for (Thread& t : L.threads) {
      if (t.state == State::Ready) {
        L.cur = &t;
        void* fake = nullptr;
        asan_start_switch(&fake, t.stack, kStackBytes);
        swapcontext(&L.sched, &t.ctx);
        asan_finish_switch(fake, nullptr, nullptr);
        L.cur = nullptr;
        ran = true;
      }
      if (t.state != State::Done) done = false;
    }
    if (done) break;
    if (!ran && !L.cancel) {
      int who = 0;
      const std::string msg = deadlock_message(L, &who);
      record_fault(L, who, msg);
    }
    if (L.cancel)  // wake everyone so their stacks unwind
      for (Thread& t : L.threads)
        if (t.state == State::Waiting) t.state = State::Ready;
  }
}

// ---------------------------------------------------------------------------------------------
// Device memory.

struct Alloc {
  unsigned char* base;
  size_t bytes;
  size_t total;
  bool poisoned;
};

struct Heap {
  std::mutex mu;
  std::map<uintptr_t, Alloc> live;  // by user address
};
Heap& heap() {
  static Heap h;  // constructed on first use: safe from other static initializers
  return h;
}

uint8_t guard_byte(size_t i) { return uint8_t(0xa5u ^ (i * 31u)); }

size_t guard_total(size_t bytes) { return kGuardBytes + (bytes + kGuardBytes + 255) / 256 * 256; }

void poison(const Alloc& a, bool on) {
#if MMSIM_ASAN
  if (!a.poisoned) return;
  unsigned char* user = a.base + kGuardBytes;
  if (on) {
    ASAN_POISON_MEMORY_REGION(a.base, kGuardBytes);
    ASAN_POISON_MEMORY_REGION(user + a.bytes, a.total - kGuardBytes - a.bytes);
  } else {
    ASAN_UNPOISON_MEMORY_REGION(a.base, a.total);
  }
#else
  (void)a, (void)on;
#endif
}

// "" when both guard zones are intact, else what was overwritten.
std::string check_alloc(const Alloc& a) {
  poison(a, false);
  std::string msg;
  const unsigned char* user = a.base + kGuardBytes;
  for (size_t i = 0; i < kGuardBytes && msg.empty(); i++)
    if (a.base[i] != guard_byte(i))
      msg = "guard zone before device allocation " + ptr_str(user) + " (" + std::to_string(a.bytes) +
            " bytes) overwritten at byte -" + std::to_string(kGuardBytes - i);
  const size_t tail = a.total - kGuardBytes - a.bytes;
  for (size_t i = 0; i < tail && msg.empty(); i++)
    if (user[a.bytes + i] != guard_byte(kGuardBytes + i))
      msg = "guard zone after device allocation " + ptr_str(user) + " (" + std::to_string(a.bytes) +
            " bytes) overwritten at byte +" + std::to_string(a.bytes + i) + " (" + std::to_string(i) +
            " bytes past the end)";
  poison(a, true);
  return msg;
}

std::atomic<size_t>& max_dyn() {
  static std::atomic<size_t> v{kSmemPerBlockLimit};
  return v;
}

// ---------------------------------------------------------------------------------------------
// Kernel registry.

struct Registry {
  std::mutex mu;
  std::map<std::string, mmsim_invoker> kernels;
  std::set<std::string> duplicates;
};
Registry& registry() {
  static Registry r;
  return r;
}

void write_err(char* err, size_t errlen, const std::string& msg) {
  if (!err || errlen == 0) return;
  std::snprintf(err, errlen, "%s", msg.c_str());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Site

bool Site::same(const Site& o) const {
  return line == o.line && col == o.col && (file == o.file || std::strcmp(file, o.file) == 0) &&
         (what == o.what || std::strcmp(what, o.what) == 0);
}

std::string Site::str() const {
  const char* base = std::strrchr(file, '/');
  return std::string(what) + " at " + (base ? base + 1 : file) + ":" + std::to_string(line) + ":" + std::to_string(col);
}

// ---------------------------------------------------------------------------------------------
// Region

Region::Region(const char* name, size_t bytes, size_t align_) : align(align_), name_(name), size_(bytes) {
  if (align == 0 || align > 256 || (align & (align - 1))) align = 256;
  // Aligned to exactly `align` (not more), so a kernel that assumes a larger alignment than it
  // declared faults here as it might on the GPU.
  const size_t lead = align < 256 ? align : 0;
  raw_ = static_cast<unsigned char*>(std::aligned_alloc(256, (lead + bytes + 255) / 256 * 256 + 256));
  if (!raw_) throw std::bad_alloc();
  data_ = raw_ + lead;
  shadow_.resize(bytes);
  fill_uninitialized();
}

Region::~Region() { std::free(raw_); }

void Region::fill_uninitialized() { std::memset(data_, 0xff, size_); }

void Region::check(int64_t off, size_t n, size_t al, Access a, int tid) {
  Launch& L = launch_state();
  Thread& t = tid < 0 ? cur() : L.threads[size_t(tid)];
  const char* verb = a == Access::Read ? "read" : a == Access::Write ? "write" : a == Access::Atomic ? "atomic" : "access";
  const char* does = a == Access::Read ? "reads it" : a == Access::Write ? "writes it" : "updates it atomically";
  if (off < 0 || uint64_t(off) + n > size_)
    rt::fail_as(t.linear, label() + " out of bounds: " + verb + " of " + std::to_string(n) +
                              " bytes at byte offset " + std::to_string(off) + " (array of " + std::to_string(size_) +
                              " bytes)");
  const uintptr_t addr = reinterpret_cast<uintptr_t>(data_ + off);
  if (addr % al)
    rt::fail_as(t.linear, "misaligned " + std::to_string(n) + "-byte " + verb + " of " + label() +
                              " at byte offset " + std::to_string(off) + " (address % " + std::to_string(al) + " = " +
                              std::to_string(addr % al) + ")");
  if (a == Access::Probe) return;

  const uint32_t iv = L.interval, now = L.sync_counter;
  const Warp& W = L.warps[size_t(t.warp)];
  // u's earlier access (stamped `stamp`) is ordered before t's by a __syncwarp naming both lanes.
  auto ordered = [&](int u, uint32_t stamp) {
    if (u == Shadow::kManyAtomics || u / 32 != t.warp) return false;
    return W.pair[u % 32][t.lane] > stamp;
  };
  auto race = [&](int64_t byte, const std::string& what) {
    rt::fail_as(t.linear, "race on " + label() + " byte " + std::to_string(byte) + ": " + what +
                              " in the same barrier interval (missing __syncthreads, or __syncwarp within a warp)");
  };
  auto check_readers = [&](const Shadow& s, int64_t byte) {
    if (s.r_iv != iv) return;
    if (s.r_warps & ~(1u << t.warp))
      race(byte, "thread " + tid_str(L, t.linear) + " " + does + " after " +
                     (s.r_tid / 32 != t.warp ? "thread " + tid_str(L, s.r_tid) : "a thread of another warp") + " read it");
    const unsigned lanes = s.r_lanes & ~(1u << t.lane);
    for (int u = 0; u < 32; u++)
      if ((lanes >> u & 1) && W.pair[u][t.lane] <= s.r_sync)
        race(byte, "thread " + tid_str(L, t.linear) + " " + does + " after thread " +
                       tid_str(L, t.warp * 32 + u) + " read it");
  };
  auto writer = [&](const Shadow& s) {
    return s.w_tid == Shadow::kManyAtomics ? std::string("several threads (atomically)")
                                           : "thread " + tid_str(L, s.w_tid) + (s.w_atomic ? " (atomically)" : "");
  };

  for (int64_t b = off; b < off + int64_t(n); b++) {
    Shadow& s = shadow_[size_t(b)];
    const bool written = s.w_iv == iv && s.w_tid != t.linear && !ordered(s.w_tid, s.w_sync);
    switch (a) {
      case Access::Read:
        if (written) race(b, "thread " + tid_str(L, t.linear) + " reads it after " + writer(s) + " wrote it");
        if (s.r_iv != iv) {
          s.r_iv = iv;
          s.r_warps = s.r_lanes = 0;
          s.r_tid = uint16_t(t.linear);
        }
        s.r_warps |= 1u << t.warp;
        s.r_lanes |= 1u << t.lane;
        s.r_sync = now;
        break;
      case Access::Write:
        if (written) race(b, "thread " + tid_str(L, t.linear) + " writes it after " + writer(s) + " wrote it");
        check_readers(s, b);
        s.w_iv = iv, s.w_tid = uint16_t(t.linear), s.w_sync = now, s.w_atomic = 0, s.r_iv = 0;
        break;
      case Access::Atomic:
        if (written && !s.w_atomic)
          race(b, "thread " + tid_str(L, t.linear) + " updates it atomically after " + writer(s) + " wrote it");
        check_readers(s, b);
        s.w_tid = (s.w_iv == iv && s.w_atomic && s.w_tid != t.linear) ? Shadow::kManyAtomics : uint16_t(t.linear);
        s.w_iv = iv, s.w_sync = now, s.w_atomic = 1, s.r_iv = 0;
        break;
      case Access::Probe:
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// rt: what the kernel-side headers call.

namespace rt {

const uint3& thread_idx() { return cur().idx; }
const uint3& block_idx() { return launch_state().bidx; }
const dim3& block_dim() { return launch_state().block; }
const dim3& grid_dim() { return launch_state().grid; }
int linear_tid() { return cur().linear; }
int lane() { return cur().lane; }
unsigned live_lanes() {
  Launch& L = launch_state();
  const Warp& W = L.warps[size_t(cur().warp)];
  return W.exists & ~W.exited;
}
std::string thread_name(int linear) { return tid_str(launch_state(), linear); }

void fail(const std::string& msg) { fail_as(-1, msg); }

void fail_as(int linear, const std::string& msg) {
  Launch& L = launch_state();
  record_fault(L, linear < 0 ? cur().linear : linear, msg);
  throw Unwind{};
}

int barrier(const Site& site, int op, int value) {
  Launch& L = launch_state();
  Thread& t = cur();
  check_cancel(L);
  if (L.exited > 0) {
    for (const Thread& o : L.threads)
      if (o.state == State::Done)
        fail(site.str() + " reached after thread " + tid_str(L, o.linear) +
             " exited: every thread of the block must reach each barrier");
  }
  t.wait = Wait::Barrier;
  t.site = site;
  t.bar_op = op;
  t.bar_value = value;
  t.state = State::Waiting;
  if (++L.at_barrier == L.nthreads) {
    for (Thread& o : L.threads)
      if (!o.site.same(site))
        fail("divergent barrier: thread " + tid_str(L, t.linear) + " waits at " + site.str() + " but thread " +
             tid_str(L, o.linear) + " waits at " + o.site.str());
    int count = 0;
    for (const Thread& o : L.threads) count += o.bar_value;
    const int result = op == 1 ? count : op == 2 ? int(count == L.nthreads) : op == 3 ? int(count > 0) : 0;
    L.interval = ++L.interval_counter;
    L.at_barrier = 0;
    for (Thread& o : L.threads) {
      o.bar_result = result;
      o.state = State::Ready;
      o.wait = Wait::None;
    }
  }
  yield(L, t);  // also the last to arrive, so that threads leave a barrier in thread order
  check_cancel(L);
  return t.bar_result;
}

void warp_op(const Site& site, unsigned mask, const void* in, size_t, void* out, size_t, Combine combine,
             const void* fn, bool any_site) {
  Launch& L = launch_state();
  Thread& t = cur();
  check_cancel(L);
  if (!(mask >> t.lane & 1))
    fail(site.str() + ": the calling lane " + std::to_string(t.lane) + " is not in mask " + hex(mask, 8));
  t.wait = Wait::Warp;
  t.site = site;
  t.mask = mask;
  t.any_site = any_site;
  t.in = in;
  t.out = out;
  t.combine = combine;
  t.fn = fn;
  t.state = State::Waiting;
  try_complete(L, t.warp, t.lane);
  yield(L, t);  // also the last to arrive, so that lanes leave a rendezvous in lane order
  check_cancel(L);
}

Region* static_region(const void* tag, size_t bytes, size_t align, const char* name) {
  Launch& L = launch_state();
  Region* r = nullptr;
  for (auto& s : L.statics)
    if (s->tag == tag) r = s.get();
  if (!r) {
    L.static_bytes += bytes;
    if (L.static_bytes > kStaticSmemLimit)
      fail("static shared memory of the block exceeds 48 KiB (" + std::to_string(L.static_bytes) +
           " bytes with '" + name + "'): use dynamic shared memory");
    if (L.static_bytes + L.dyn_smem > kSmemPerBlockLimit)
      fail("static plus dynamic shared memory exceeds 227 KiB per block");
    L.statics.push_back(std::make_unique<Region>(name, bytes, align));
    r = L.statics.back().get();
    r->tag = tag;
  } else if (r->size() != bytes) {
    fail("shared '" + std::string(name) + "' declared with " + std::to_string(bytes) + " bytes after " +
         std::to_string(r->size()));
  }
  if (r->block_serial != L.block_serial) {
    r->fill_uninitialized();
    r->block_serial = L.block_serial;
  }
  return r;
}

Region* dynamic_region(const char* name) {
  Region* r = launch_state().dynamic.get();
  if (r->name()[0] == 0) r->set_name(name);  // named after its first declaration
  return r;
}

void async_copy(Region* dst, int64_t off, const void* src, int bytes, int src_bytes, const char* what) {
  Thread& t = cur();
  if (!dst) fail(std::string(what) + ": destination is not in shared memory");
  dst->check(off, size_t(bytes), size_t(bytes), Access::Probe, t.linear);
  if (src_bytes > 0 && reinterpret_cast<uintptr_t>(src) % uintptr_t(bytes))
    fail(std::string(what) + ": source " + ptr_str(src) + " is not " + std::to_string(bytes) + "-byte aligned");
  t.copies.push_back({dst, off, src, bytes, src_bytes});
}

void async_commit() {
  Thread& t = cur();
  t.group_ends.push_back(t.copies.size());
}

void async_wait(int pending) {
  Thread& t = cur();
  const size_t groups = t.group_ends.size();
  if (groups <= size_t(pending)) return;
  const size_t done_groups = groups - size_t(pending);
  const size_t n = t.group_ends[done_groups - 1];
  for (size_t i = 0; i < n; i++) perform_copy(t, t.copies[i]);
  t.copies.erase(t.copies.begin(), t.copies.begin() + std::ptrdiff_t(n));
  t.group_ends.erase(t.group_ends.begin(), t.group_ends.begin() + std::ptrdiff_t(done_groups));
  for (size_t& e : t.group_ends) e -= n;
}

}  // namespace rt

// ---------------------------------------------------------------------------------------------
// Host API

LaunchResult launch(const char* name, dim3 grid, dim3 block, size_t dyn_smem, const std::function<void()>& body) {
  LaunchResult res;
  auto bad = [&](const std::string& msg) {
    res.ok = false;
    res.error = "launch of kernel " + std::string(name) + ": " + msg;
    return res;
  };
  const uint64_t nthreads = uint64_t(block.x) * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || nthreads == 0) return bad("zero grid or block dimension");
  if (block.x > 1024 || block.y > 1024 || block.z > 64 || nthreads > 1024)
    return bad("block (" + std::to_string(block.x) + "," + std::to_string(block.y) + "," + std::to_string(block.z) +
               ") exceeds 1024 threads or the per-dimension limits (1024, 1024, 64)");
  if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) return bad("grid exceeds (2^31-1, 65535, 65535)");
  if (dyn_smem > max_dynamic_smem())
    return bad(std::to_string(dyn_smem) + " bytes of dynamic shared memory exceed the limit of " +
               std::to_string(max_dynamic_smem()));
  if (g_launch) return bad("launch from inside a running kernel");

  Launch L;
  L.kernel = name;
  L.grid = grid;
  L.block = block;
  L.dyn_smem = dyn_smem;
  L.body = &body;
  L.nthreads = int(nthreads);
  L.threads.resize(nthreads);
  L.warps.resize((nthreads + 31) / 32);
  const size_t slot = kStackBytes + size_t(getpagesize());
  L.stacks_bytes = slot * nthreads;
  void* m = mmap(nullptr, L.stacks_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return bad("cannot map fiber stacks");
  L.stacks = static_cast<char*>(m);
  for (uint64_t i = 0; i < nthreads; i++) {
    Thread& t = L.threads[i];
    t.linear = int(i);
    t.warp = int(i / 32);
    t.lane = int(i % 32);
    t.idx = {unsigned(i % block.x), unsigned((i / block.x) % block.y), unsigned(i / (uint64_t(block.x) * block.y))};
    char* s = L.stacks + i * slot;
    mprotect(s, size_t(getpagesize()), PROT_NONE);  // overflow guard below the stack
    t.stack = s + getpagesize();
    init_context(t);
    L.warps[size_t(t.warp)].exists |= 1u << t.lane;
  }
  L.dynamic = std::make_unique<Region>("", dyn_smem, 16);
  L.dynamic->dynamic = true;

  g_launch = &L;
  try {
    for (unsigned z = 0; z < grid.z && !L.failed; z++)
      for (unsigned y = 0; y < grid.y && !L.failed; y++)
        for (unsigned x = 0; x < grid.x && !L.failed; x++) {
          L.bidx = {x, y, z};
          run_block(L);
        }
  } catch (const std::exception& e) {
    if (!L.failed) L.fault = std::string("kernel ") + name + ": simulator error: " + e.what();
    L.failed = true;
  }
  g_launch = nullptr;
  munmap(L.stacks, L.stacks_bytes);

  if (L.failed) {
    res.ok = false;
    res.error = L.fault;
    return res;
  }
  return check_guards((std::string("kernel ") + name).c_str());
}

void* device_malloc(size_t bytes, Poison p) {
  Alloc a{};
  a.bytes = bytes;
  a.total = guard_total(bytes);
  a.base = static_cast<unsigned char*>(std::aligned_alloc(256, a.total));
  if (!a.base) return nullptr;
  a.poisoned = MMSIM_ASAN && p == Poison::Auto;
  unsigned char* user = a.base + kGuardBytes;
  for (size_t i = 0; i < kGuardBytes; i++) a.base[i] = guard_byte(i);
  std::memset(user, 0xff, bytes);
  for (size_t i = 0; i < a.total - kGuardBytes - bytes; i++) user[bytes + i] = guard_byte(kGuardBytes + i);
  poison(a, true);
  Heap& h = heap();
  std::lock_guard<std::mutex> lock(h.mu);
  h.live[reinterpret_cast<uintptr_t>(user)] = a;
  return user;
}

LaunchResult device_free(void* p) {
  LaunchResult res;
  Heap& h = heap();
  Alloc a;
  {
    std::lock_guard<std::mutex> lock(h.mu);
    auto it = h.live.find(reinterpret_cast<uintptr_t>(p));
    if (it == h.live.end()) {
      res.ok = false;
      res.error = "free of " + ptr_str(p) + ", which is not a live device allocation";
      return res;
    }
    a = it->second;
    h.live.erase(it);
  }
  const std::string msg = check_alloc(a);
  poison(a, false);
  std::free(a.base);
  if (!msg.empty()) {
    res.ok = false;
    res.error = "free: " + msg;
  }
  return res;
}

LaunchResult check_guards(const char* context) {
  LaunchResult res;
  Heap& h = heap();
  std::lock_guard<std::mutex> lock(h.mu);
  for (const auto& [user, a] : h.live) {
    const std::string msg = check_alloc(a);
    if (!msg.empty()) {
      res.ok = false;
      res.error = std::string(context) + ": " + msg;
      return res;
    }
  }
  return res;
}

void set_max_dynamic_smem(size_t bytes) { max_dyn().store(bytes); }
size_t max_dynamic_smem() { return max_dyn().load(); }

}  // namespace mmsim

// ---------------------------------------------------------------------------------------------
// C ABI

extern "C" {

void mmsim_register(const char* name, mmsim_invoker f) {
  auto& r = mmsim::registry();
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.kernels.emplace(name, f).second) r.duplicates.insert(name);
}

void* mmsim_malloc(size_t bytes) {
  try {
    return mmsim::device_malloc(bytes);
  } catch (...) {
    return nullptr;
  }
}

int mmsim_free(void* p, char* err, size_t errlen) {
  try {
    const auto r = mmsim::device_free(p);
    mmsim::write_err(err, errlen, r.error);
    return r.ok ? 0 : 1;
  } catch (const std::exception& e) {
    mmsim::write_err(err, errlen, std::string("mmsim_free: ") + e.what());
    return 1;
  }
}

int mmsim_launch(const char* name, mmsim_dim3 grid, mmsim_dim3 block, size_t dyn_smem, void** args, char* err,
                 size_t errlen) {
  try {
    mmsim_invoker f = nullptr;
    {
      auto& r = mmsim::registry();
      std::lock_guard<std::mutex> lock(r.mu);
      if (r.duplicates.count(name)) {
        mmsim::write_err(err, errlen, "kernel " + std::string(name) + " is registered twice");
        return 1;
      }
      auto it = r.kernels.find(name);
      if (it != r.kernels.end()) f = it->second;
    }
    if (!f) {
      mmsim::write_err(err, errlen, "unknown kernel " + std::string(name));
      return 1;
    }
    const std::function<void()> body = [f, args] { f(args); };
    const auto r = mmsim::launch(name, dim3(grid.x, grid.y, grid.z), dim3(block.x, block.y, block.z), dyn_smem, body);
    mmsim::write_err(err, errlen, r.error);
    return r.ok ? 0 : 1;
  } catch (const std::exception& e) {
    mmsim::write_err(err, errlen, std::string("mmsim_launch: ") + e.what());
    return 1;
  }
}

int mmsim_set_limits(size_t max_dyn_smem) {
  if (max_dyn_smem > mmsim::kSmemPerBlockLimit) return 1;
  mmsim::set_max_dynamic_smem(max_dyn_smem);
  return 0;
}

int mmsim_check(char* err, size_t errlen) {
  const auto r = mmsim::check_guards("mmsim_check");
  mmsim::write_err(err, errlen, r.error);
  return r.ok ? 0 : 1;
}

size_t mmsim_live_allocations(void) {
  auto& h = mmsim::heap();
  std::lock_guard<std::mutex> lock(h.mu);
  return h.live.size();
}

int mmsim_asan(void) { return MMSIM_ASAN; }

}  // extern "C"
