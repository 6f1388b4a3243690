// Device memory faults: writes past a buffer are caught by the guard zones at the end of the launch
// (and at free), and, in AddressSanitizer builds, at the faulting access itself.
#include <sys/wait.h>
#include <unistd.h>

#include "../../include/mm_cuda.h"
#include "check.h"

using simtest::Buf;

namespace {

// PLANTED FAULT: one element past the end (or before the start) of a buffer.
__global__ void k_fill(float* y, int n, int shift) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) y[i + shift] = 1.0f;
}

TEST(planted_write_past_the_end_hits_the_guard_zone) {
  // Unpoisoned, so the write lands (as without ASan) and the guard check must catch it.
  float* y = static_cast<float*>(mmsim::device_malloc(100 * sizeof(float), mmsim::Poison::Off));
  EXPECT_OK(mmsim::launch("k_fill", 1, 64, 0, [&] { k_fill(y, 100, 0); }));
  EXPECT_FAULT(mmsim::launch("k_fill", 1, 64, 0, [&] { k_fill(y, 100, 1); }), "kernel k_fill: guard zone after",
               "(400 bytes) overwritten at byte +400 (0 bytes past the end)");
  const auto r = mmsim::device_free(y);  // free reports it too, and releases the memory
  CHECK(!r.ok);
  CHECK_MSG(r.error.find("guard zone after device allocation") != std::string::npos, r.error);

  float* z = static_cast<float*>(mmsim::device_malloc(100 * sizeof(float), mmsim::Poison::Off));
  EXPECT_FAULT(mmsim::launch("k_fill", 1, 64, 0, [&] { k_fill(z, 100, -1); }), "guard zone before device allocation",
               "overwritten at byte -4");
  char err[256];
  CHECK(mmsim_check(err, sizeof err) != 0);
  CHECK(!mmsim::device_free(z).ok);
  CHECK(mmsim_check(err, sizeof err) == 0);
}

TEST(buffers_start_as_nan_and_are_aligned) {
  Buf<float> a(3), b(5);
  CHECK(std::isnan(a[0]) && std::isnan(a[2]) && std::isnan(b[4]));
  CHECK(reinterpret_cast<uintptr_t>(a.p) % 256 == 0);
  CHECK(reinterpret_cast<uintptr_t>(b.p) % 256 == 0);
}

// In an ASan build the same write stops at the faulting instruction with ASan's report, which
// aborts the process: run it in a child and read the report.
TEST(planted_write_past_the_end_under_asan) {
  if (!mmsim_asan()) {
    std::printf("     (not an AddressSanitizer build: the guard-zone test above covers it)\n");
    return;
  }
  int fds[2];
  CHECK(pipe(fds) == 0);
  std::fflush(stdout);
  const pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    float* y = static_cast<float*>(mmsim_malloc(37 * sizeof(float)));  // odd size: a partial ASan granule
    mmsim::launch("k_fill", 1, 64, 0, [&] { k_fill(y, 37, 1); });
    _exit(0);  // not reached: ASan aborts at the write
  }
  close(fds[1]);
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) report.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK_MSG(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the child finished without an ASan report");
  CHECK_MSG(report.find("ERROR: AddressSanitizer: use-after-poison") != std::string::npos, report);
  CHECK_MSG(report.find("WRITE of size 4") != std::string::npos, report);
  CHECK_MSG(report.find("k_fill") != std::string::npos, report);
}

}  // namespace
