// Runs every TEST; the last line is "N passed, M failed" and the exit status is non-zero on failure.
#include <cstdlib>
#include <cstring>
#include <exception>

#include "check.h"

namespace simtest {

std::vector<Case>& cases() {
  static std::vector<Case> c;
  return c;
}

void fail(const char* file, int line, const std::string& msg) {
  const char* base = std::strrchr(file, '/');
  throw Failure{std::string(base ? base + 1 : file) + ":" + std::to_string(line) + ": " + msg};
}

void expect_fault(const char* file, int line, const mmsim::LaunchResult& r, std::initializer_list<const char*> parts) {
  if (r.ok) fail(file, line, "launch succeeded; expected a fault");
  for (const char* p : parts)
    if (r.error.find(p) == std::string::npos)
      fail(file, line, "fault message lacks \"" + std::string(p) + "\": " + r.error);
}

static uint64_t g_seed = 0;
std::mt19937_64& rng() {
  static std::mt19937_64 r(g_seed);
  return r;
}

}  // namespace simtest

int main(int argc, char** argv) {
  using namespace simtest;
  const char* env = std::getenv("MMSIM_SEED");
  g_seed = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("mmsim tests: seed %llu (MMSIM_SEED=%llu repeats it)\n", (unsigned long long)g_seed,
              (unsigned long long)g_seed);
  const char* only = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (const Case& c : cases()) {
    if (only && !std::strstr(c.name, only)) continue;
    try {
      c.fn();
      if (mmsim_live_allocations() != 0) fail(__FILE__, __LINE__, "device allocations leaked");
      std::printf("ok   %s\n", c.name);
      passed++;
    } catch (const Failure& f) {
      std::printf("FAIL %s: %s\n", c.name, f.msg.c_str());
      failed++;
    } catch (const std::exception& e) {
      std::printf("FAIL %s: exception %s\n", c.name, e.what());
      failed++;
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
