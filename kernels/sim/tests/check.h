// A minimal test harness for the simulator's tests (no external dependency): TEST cases, CHECKs
// that throw, fault expectations, guarded device buffers and a seeded random source.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../mmsim.h"
#include "../runtime.h"

namespace simtest {

struct Case {
  const char* name;
  void (*fn)();
};
std::vector<Case>& cases();
struct Register {
  Register(const char* name, void (*fn)()) { cases().push_back({name, fn}); }
};

struct Failure {
  std::string msg;
};
[[noreturn]] void fail(const char* file, int line, const std::string& msg);

#define TEST(name)                                              \
  static void name();                                           \
  static const ::simtest::Register name##_registered(#name, name); \
  static void name()
#define CHECK(cond) \
  do {                                                                                   \
    if (!(cond)) ::simtest::fail(__FILE__, __LINE__, "CHECK(" #cond ") failed");         \
  } while (0)
#define CHECK_MSG(cond, msg)                                                                              \
  do {                                                                                                    \
    if (!(cond)) ::simtest::fail(__FILE__, __LINE__, std::string("CHECK(" #cond ") failed: ") + (msg)); \
  } while (0)

// The launch succeeded.
#define EXPECT_OK(res) \
  do {                                                                                  \
    const auto& r_ = (res);                                                             \
    if (!r_.ok) ::simtest::fail(__FILE__, __LINE__, "launch failed: " + r_.error);     \
  } while (0)
// The launch failed and its message contains every part.
#define EXPECT_FAULT(res, ...) ::simtest::expect_fault(__FILE__, __LINE__, (res), {__VA_ARGS__})
void expect_fault(const char* file, int line, const mmsim::LaunchResult& r, std::initializer_list<const char*> parts);

// A device buffer from the simulator's allocator; freed (and its guard zones checked) at scope end.
template <class T>
struct Buf {
  T* p;
  size_t n;
  explicit Buf(size_t count, mmsim::Poison poison = mmsim::Poison::Auto)
      : p(static_cast<T*>(mmsim::device_malloc(count * sizeof(T), poison))), n(count) {}
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() noexcept(false) {
    const auto r = mmsim::device_free(p);
    if (!r.ok && std::uncaught_exceptions() == 0) throw Failure{"device_free: " + r.error};
  }
  T& operator[](size_t i) { return p[i]; }
  void fill(T v) {
    for (size_t i = 0; i < n; i++) p[i] = v;
  }
};

// The seeded random source of a test (seed printed by the runner; MMSIM_SEED repeats a run).
std::mt19937_64& rng();
// Uniform in [lo, hi], never zero (|x| >= 1e-3): a zero would hide a missing term.
inline float uniform(float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  for (;;) {
    const float x = d(rng());
    if (std::fabs(x) >= 1e-3f) return x;
  }
}
// Uniform integer in [lo, hi], never zero.
inline int uniform_int(int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  for (;;) {
    const int x = d(rng());
    if (x != 0) return x;
  }
}

inline std::string str(double v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}

}  // namespace simtest
