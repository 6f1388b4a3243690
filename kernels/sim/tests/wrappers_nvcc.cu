// Every mm_cuda.h wrapper used once. Under nvcc it is a compile check of the inline PTX (ptxas
// validates it: make -f kernels/sim.mk sim-nvcc-check, needs nvcc, no GPU); under g++ the simulator
// tests run it (test_mma.cc). Not a kernel image.
#include "../../include/mm_cuda.h"

extern "C" __global__ void mm_wrappers_check(const float* gf, const __half* gh, float* out, int* iout)
{
  MM_SHARED_ALIGNED(__half, sh, 16 * 16, 16);
  MM_SHARED_ALIGNED(float, sf, 64, 16);
  MM_DYNAMIC_SHARED(float, dyn);
  const int lane = threadIdx.x % 32;
  mm::cp_async_16(sh + lane * 8, gh + lane * 8);
  if (lane < 16) mm::cp_async_16_zfill(sf + lane * 4, gf + lane * 4, lane < 8);
  mm::cp_async_ca<4>(dyn + lane, gf + lane);
  mm::cp_async_ca<8>(dyn + 64 + 2 * lane, gf + 2 * lane);
  mm::cp_async_commit();
  mm::cp_async_wait<1>();
  mm::cp_async_wait_all();
  __syncthreads();
  uint32_t a[4], b2[2], b1[1], t1[1], t2[2], t4[4];
  mm::ldmatrix_x4(a, &sh[(lane % 16) * 16 + (lane / 16) * 8]);
  mm::ldmatrix_x2(b2, &sh[(lane % 16) * 16]);
  mm::ldmatrix_x1(b1, &sh[(lane % 8) * 16]);
  mm::ldmatrix_x1_trans(t1, &sh[(lane % 8) * 16]);
  mm::ldmatrix_x2_trans(t2, &sh[(lane % 16) * 16]);
  mm::ldmatrix_x4_trans(t4, &sh[(lane % 16) * 16 + (lane / 16) * 8]);
  float c[4] = {sf[lane], 0, 0, 0}, d[4];
  mm::mma_m16n8k16_f16(d, a, b2, c);
  mm::mma_m16n8k16_bf16(d, t4, t2, d);
  const uint32_t ta[4] = {mm::to_tf32(gf[0]), mm::to_tf32(gf[1]), mm::to_tf32(gf[2]), mm::to_tf32(gf[3])};
  const uint32_t tb[2] = {mm::to_tf32(gf[4]), mm::to_tf32(gf[5])};
  mm::mma_m16n8k8_tf32(d, ta, tb, d);
  int ic[4] = {0, 1, 2, 3}, id[4];
  mm::mma_m16n8k32_s8(id, a, b2, ic);
  const int nib[8] = {1, -2, 3, -4, 5, -6, 7, -8};
  const uint32_t s4b[2] = {mm::pack_s4x8(nib), mm::pack_s8x4(1, 2, 3, 4)};
  mm::mma_m16n8k64_s4(id, a, s4b, id);
  const float4 v4 = mm::load_float4(gf + 4 * lane);
  mm::store_vec(out + 4 * lane, v4);
  out[128 + lane] = d[0] + d[1] + d[2] + d[3] + __half2float(gh[0]) +
                    float(mm::pack_half2(1.0f, 2.0f) ^ mm::pack_bf162(3.0f, 4.0f));
  iout[lane] = int(unsigned(id[0]) + unsigned(id[1]) + unsigned(id[2]) + unsigned(id[3]) + (b1[0] ^ t1[0]));
}
