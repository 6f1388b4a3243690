// The real kernels on the simulator, launched through the C ABI exactly as the Go side does
// (registered invokers unpacking kernelParams-style args), against plain float64 references on
// small random inputs. A correct kernel must also run without any fault (no false positives).
#include <vector>

#include "../../gla.cu"
#include "../../monarch.cu"
#include "check.h"

using simtest::Buf;

namespace {

// What the generated registration code does for each kernel.
void invoke_monarch(void** a) {
  monarch_fwd_f32(*static_cast<const float**>(a[0]), *static_cast<const float**>(a[1]),
                  *static_cast<const float**>(a[2]), *static_cast<float**>(a[3]), *static_cast<int*>(a[4]),
                  *static_cast<int*>(a[5]), *static_cast<int*>(a[6]), *static_cast<int*>(a[7]), *static_cast<int*>(a[8]),
                  *static_cast<int*>(a[9]), *static_cast<int*>(a[10]));
}
void invoke_gla(void** a) {
  gla_recurrent_f32(*static_cast<const float**>(a[0]), *static_cast<const float**>(a[1]),
                    *static_cast<const float**>(a[2]), *static_cast<const float**>(a[3]), *static_cast<float**>(a[4]),
                    *static_cast<float**>(a[5]), *static_cast<const int**>(a[6]), *static_cast<const long long**>(a[7]),
                    *static_cast<int*>(a[8]), *static_cast<int*>(a[9]), *static_cast<int*>(a[10]),
                    *static_cast<int*>(a[11]), *static_cast<float*>(a[12]), *static_cast<int*>(a[13]));
}
const bool registered = [] {
  mmsim_register("monarch_fwd_f32", invoke_monarch);
  mmsim_register("gla_recurrent_f32", invoke_gla);
  return true;
}();

std::string launch_c(const char* name, mmsim_dim3 grid, mmsim_dim3 block, size_t smem, std::vector<void*> args) {
  char err[512] = "untouched";
  const int rc = mmsim_launch(name, grid, block, smem, args.data(), err, sizeof err);
  if (rc == 0 && err[0] != 0) return "rc 0 but message: " + std::string(err);
  return rc == 0 ? "" : (err[0] ? err : "rc != 0 without message");
}

double rel_fro(const float* got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); i++) {
    const double d = double(got[i]) - want[i];
    num += d * d;
    den += want[i] * want[i];
  }
  return std::isnan(num) ? INFINITY : std::sqrt(num / den);
}

struct MonarchShape {
  int batch, k, q, p, l, s, r;
};

std::vector<double> monarch_ref(const MonarchShape& d, const Buf<float>& x, const Buf<float>& w1, const Buf<float>& w2) {
  const int n = d.k * d.p, m = d.l * d.s;
  std::vector<double> y(size_t(d.batch) * m), y1(size_t(d.k) * d.q);
  for (int b = 0; b < d.batch; b++) {
    for (int kk = 0; kk < d.k; kk++)
      for (int qq = 0; qq < d.q; qq++) {
        double acc = 0;
        for (int pp = 0; pp < d.p; pp++) acc += double(w1.p[(kk * d.q + qq) * d.p + pp]) * x.p[b * n + kk * d.p + pp];
        y1[size_t(kk) * d.q + qq] = acc;
      }
    for (int ll = 0; ll < d.l; ll++)
      for (int ss = 0; ss < d.s; ss++) {
        double acc = 0;
        for (int rr = 0; rr < d.r; rr++) acc += double(w2.p[(ll * d.s + ss) * d.r + rr]) * y1[size_t(rr) * d.l + ll];
        y[size_t(b) * m + ss * d.l + ll] = acc;
      }
  }
  return y;
}

TEST(monarch_fwd_f32_matches_reference) {
  const MonarchShape shapes[] = {
      {5, 4, 4, 4, 4, 4, 4},        // square, n = 16
      {3, 3, 5, 7, 5, 6, 3},        // rectangular: k*q = 15 = l*r
      {7, 8, 4, 6, 4, 9, 8},        // k*q = 32 = l*r
      {2, 1, 1, 1, 1, 1, 1},        // degenerate blocks
      {3, 16, 16, 16, 16, 16, 16},  // n = 256
  };
  const unsigned blocks[] = {32, 64, 100, 256};
  const unsigned grids[] = {1, 2, 8};
  int run = 0;
  for (const auto& d : shapes) {
    const int n = d.k * d.p, m = d.l * d.s;
    Buf<float> x(size_t(d.batch) * n), w1(size_t(d.k) * d.q * d.p), w2(size_t(d.l) * d.s * d.r), y(size_t(d.batch) * m);
    for (size_t i = 0; i < x.n; i++) x[i] = simtest::uniform(-1, 1);
    for (size_t i = 0; i < w1.n; i++) w1[i] = simtest::uniform(-1, 1);
    for (size_t i = 0; i < w2.n; i++) w2[i] = simtest::uniform(-1, 1);
    const auto want = monarch_ref(d, x, w1, w2);
    for (int rep = 0; rep < 2; rep++, run++) {
      const unsigned bx = blocks[run % 4], gx = grids[run % 3];
      y.fill(NAN);
      const float *xp = x.p, *w1p = w1.p, *w2p = w2.p;
      float* yp = y.p;
      int args[7] = {d.batch, d.k, d.q, d.p, d.l, d.s, d.r};
      const std::string err = launch_c("monarch_fwd_f32", {gx, 1, 1}, {bx, 1, 1}, size_t(d.k) * d.q * sizeof(float),
                                       {&xp, &w1p, &w2p, &yp, &args[0], &args[1], &args[2], &args[3], &args[4], &args[5],
                                        &args[6]});
      CHECK_MSG(err.empty(), err);
      const double e = rel_fro(y.p, want);
      CHECK_MSG(e < 1e-5, "shape n=" + std::to_string(n) + " block " + std::to_string(bx) + ": relative error " +
                              simtest::str(e));
    }
  }
}

TEST(monarch_fwd_f32_edges) {
  Buf<float> x(16), w1(16), w2(16), y(16);
  for (size_t i = 0; i < 16; i++) x[i] = w1[i] = w2[i] = simtest::uniform(-1, 1);
  y.fill(NAN);
  // batch 0: nothing is written.
  EXPECT_OK(mmsim::launch("monarch_fwd_f32", 1, 32, 16, [&] { monarch_fwd_f32(x.p, w1.p, w2.p, y.p, 0, 2, 2, 2, 2, 2, 2); }));
  for (int i = 0; i < 16; i++) CHECK(std::isnan(y[i]));
  // Too little dynamic shared memory for k*q floats is caught, not silently wrong.
  EXPECT_FAULT(mmsim::launch("monarch_fwd_f32", 1, 32, 12, [&] { monarch_fwd_f32(x.p, w1.p, w2.p, y.p, 1, 2, 2, 2, 2, 2, 2); }),
               "dynamic shared 'y1' out of bounds");
}

// GLA: sequences as [bos, eos) token ranges; q, k, g [tokens, H, K]; v, o [tokens, H, V].
struct GlaCase {
  int H, K, V;
  std::vector<long long> cu;  // offsets of N sequences
  int T;                      // fixed length (cu built from it) when varlen is false
  bool varlen;
  bool load_state;
  unsigned block;
};

void gla_ref(const GlaCase& c, const Buf<float>& q, const Buf<float>& k, const Buf<float>& v, const Buf<float>& g,
             const std::vector<float>& h0, float scale, std::vector<double>& o, std::vector<double>& ht) {
  const int N = int(c.cu.size()) - 1, H = c.H, K = c.K, V = c.V;
  o.assign(size_t(c.cu.back()) * H * V, 0);
  ht.assign(size_t(N) * H * K * V, 0);
  for (int n = 0; n < N; n++)
    for (int h = 0; h < H; h++) {
      double* S = &ht[(size_t(n) * H + h) * K * V];
      if (c.load_state)
        for (int i = 0; i < K * V; i++) S[i] = h0[(size_t(n) * H + h) * K * V + i];
      for (long long t = c.cu[n]; t < c.cu[n + 1]; t++) {
        const size_t qi = (size_t(t) * H + h) * K, vi = (size_t(t) * H + h) * V;
        for (int kk = 0; kk < K; kk++)
          for (int vv = 0; vv < V; vv++)
            S[kk * V + vv] = std::exp(double(g.p[qi + kk])) * S[kk * V + vv] + double(k.p[qi + kk]) * v.p[vi + vv];
        for (int vv = 0; vv < V; vv++) {
          double acc = 0;
          for (int kk = 0; kk < K; kk++) acc += double(q.p[qi + kk]) * S[kk * V + vv];
          o[vi + vv] = scale * acc;
        }
      }
    }
}

double rel_rms(const float* got, const std::vector<double>& want) { return rel_fro(got, want); }

// Runs one case through mmsim_launch with int32 or int64 offsets (or none) and checks o and ht.
void run_gla(const GlaCase& c, int offsets_bits) {
  const int N = int(c.cu.size()) - 1, H = c.H, K = c.K, V = c.V;
  const long long tokens = c.cu.back();
  Buf<float> q(size_t(tokens) * H * K + 1), k(q.n), g(q.n), v(size_t(tokens) * H * V + 1), o(v.n),
      state(size_t(N) * H * K * V);
  Buf<int> cu32(c.cu.size());
  Buf<long long> cu64(c.cu.size());
  for (size_t i = 0; i < c.cu.size(); i++) cu32[i] = int(c.cu[i]), cu64[i] = c.cu[i];
  for (size_t i = 0; i < q.n; i++) q[i] = simtest::uniform(-1, 1), k[i] = simtest::uniform(-1, 1);
  for (size_t i = 0; i < g.n; i++) g[i] = simtest::uniform(-1.0f, -0.01f);  // log decay, as logsigmoid gives
  for (size_t i = 0; i < v.n; i++) v[i] = simtest::uniform(-1, 1);
  std::vector<float> h0(state.n);
  for (auto& x : h0) x = simtest::uniform(-1, 1);
  for (size_t i = 0; i < state.n; i++) state[i] = c.load_state ? h0[i] : NAN;  // NaN: must not be read
  o.fill(NAN);
  const float scale = 1.0f / std::sqrt(float(K));
  std::vector<double> want_o, want_ht;
  gla_ref(c, q, k, v, g, h0, scale, want_o, want_ht);

  const float *qp = q.p, *kp = k.p, *vp = v.p, *gp = g.p;
  float *op = o.p, *sp = state.p;
  const int* c32 = offsets_bits == 32 ? cu32.p : nullptr;
  const long long* c64 = offsets_bits == 64 ? cu64.p : nullptr;
  int T = c.varlen ? int(tokens) : c.T, Hh = H, Kk = K, Vv = V, load = c.load_state;
  float sc = scale;
  const std::string err = launch_c("gla_recurrent_f32", {unsigned(H), unsigned(N), 1}, {c.block, 1, 1},
                                   3 * size_t(K) * sizeof(float),
                                   {&qp, &kp, &vp, &gp, &op, &sp, &c32, &c64, &T, &Hh, &Kk, &Vv, &sc, &load});
  CHECK_MSG(err.empty(), err);
  const std::string what = "H=" + std::to_string(H) + " K=" + std::to_string(K) + " V=" + std::to_string(V) +
                           " block " + std::to_string(c.block) + " offsets " + std::to_string(offsets_bits);
  CHECK_MSG(std::isnan(o[size_t(tokens) * H * V]), "o written past its end: " + what);
  const double eo = rel_rms(o.p, want_o), es = rel_rms(state.p, want_ht);
  CHECK_MSG(eo < 1e-5, what + ": o relative error " + simtest::str(eo));
  CHECK_MSG(es < 1e-5, what + ": final state relative error " + simtest::str(es));
}

std::vector<long long> fixed(int B, int T) {
  std::vector<long long> cu(size_t(B) + 1);
  for (int b = 0; b <= B; b++) cu[size_t(b)] = (long long)b * T;
  return cu;
}

TEST(gla_recurrent_f32_fixed_length) {
  run_gla({3, 5, 7, fixed(2, 6), 6, false, false, 4}, 0);   // block smaller than V: columns strided
  run_gla({3, 5, 7, fixed(2, 6), 6, false, true, 32}, 0);   // with h0
  run_gla({1, 1, 33, fixed(1, 9), 9, false, true, 32}, 0);  // K = 1, V one past a warp
  run_gla({2, 16, 8, fixed(3, 4), 4, false, false, 128}, 0);
}

TEST(gla_recurrent_f32_varlen) {
  const std::vector<long long> cu = {0, 3, 3, 7, 12};  // an empty sequence keeps its h0
  run_gla({2, 6, 5, cu, 0, true, true, 16}, 32);
  run_gla({2, 6, 5, cu, 0, true, true, 16}, 64);
  run_gla({2, 6, 5, cu, 0, true, false, 3}, 64);
}

TEST(gla_recurrent_f32_decode_steps_carry_the_state) {
  // Two decode steps (T = 1, state in place) equal one recurrent run over two tokens.
  const int B = 3, H = 2, K = 4, V = 6;
  Buf<float> q(2 * B * H * K), k(q.n), g(q.n), v(2 * B * H * V), o(v.n), state(size_t(B) * H * K * V), o2(v.n),
      state2(state.n);
  for (size_t i = 0; i < q.n; i++) q[i] = simtest::uniform(-1, 1), k[i] = simtest::uniform(-1, 1), g[i] = simtest::uniform(-2, -0.01f);
  for (size_t i = 0; i < v.n; i++) v[i] = simtest::uniform(-1, 1);
  for (size_t i = 0; i < state.n; i++) state[i] = state2[i] = simtest::uniform(-1, 1);
  o.fill(NAN);
  o2.fill(NAN);
  // Step layout: token s of sequence b at [s][b]; the two-token run wants [b][s].
  Buf<float> q2(q.n), k2(q.n), g2(q.n), v2(v.n);
  for (int s = 0; s < 2; s++)
    for (int b = 0; b < B; b++) {
      for (int i = 0; i < H * K; i++) {
        const size_t from = (size_t(s) * B + b) * H * K + i, to = (size_t(b) * 2 + s) * H * K + i;
        q2[to] = q[from], k2[to] = k[from], g2[to] = g[from];
      }
      for (int i = 0; i < H * V; i++) v2[(size_t(b) * 2 + s) * H * V + i] = v[(size_t(s) * B + b) * H * V + i];
    }
  for (int s = 0; s < 2; s++) {
    const size_t qo = size_t(s) * B * H * K, vo = size_t(s) * B * H * V;
    EXPECT_OK(mmsim::launch("gla_recurrent_f32", dim3(H, B), 8, 3 * K * sizeof(float), [&] {
      gla_recurrent_f32(q.p + qo, k.p + qo, v.p + vo, g.p + qo, o.p + vo, state.p, nullptr, nullptr, 1, H, K, V, 0.5f, 1);
    }));
  }
  EXPECT_OK(mmsim::launch("gla_recurrent_f32", dim3(H, B), 8, 3 * K * sizeof(float), [&] {
    gla_recurrent_f32(q2.p, k2.p, v2.p, g2.p, o2.p, state2.p, nullptr, nullptr, 2, H, K, V, 0.5f, 1);
  }));
  for (int s = 0; s < 2; s++)
    for (int b = 0; b < B; b++)
      for (int i = 0; i < H * V; i++)
        CHECK(std::fabs(o[(size_t(s) * B + b) * H * V + i] - o2[(size_t(b) * 2 + s) * H * V + i]) <= 1e-6f);
  for (size_t i = 0; i < state.n; i++) CHECK(std::fabs(state[i] - state2[i]) <= 1e-6f);
}

TEST(c_abi_errors) {
  char err[256];
  const mmsim_dim3 one = {1, 1, 1};
  CHECK(mmsim_launch("no_such_kernel", one, one, 0, nullptr, err, sizeof err) != 0);
  CHECK(std::string(err) == "unknown kernel no_such_kernel");
  mmsim_register("twice", invoke_gla);
  mmsim_register("twice", invoke_gla);
  CHECK(mmsim_launch("twice", one, one, 0, nullptr, err, sizeof err) != 0);
  CHECK(std::string(err).find("registered twice") != std::string::npos);
  const mmsim_dim3 huge = {2048, 1, 1};
  CHECK(mmsim_launch("monarch_fwd_f32", one, huge, 0, nullptr, err, sizeof err) != 0);
  CHECK(std::string(err).find("exceeds 1024 threads") != std::string::npos);
  int local = 0;
  CHECK(mmsim_free(&local, err, sizeof err) != 0);
  CHECK(std::string(err).find("not a live device allocation") != std::string::npos);
  char tiny[8];
  CHECK(mmsim_free(&local, tiny, sizeof tiny) != 0);  // truncated, still terminated
  CHECK(std::strlen(tiny) == 7);
  void* z = mmsim_malloc(0);
  CHECK(z != nullptr);
  CHECK(mmsim_free(z, err, sizeof err) == 0);
  CHECK(err[0] == 0);
}

}  // namespace
