#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cstdlib>
static float ld(const void* p, int t, long i) {
  if (t == 0) return ((const float*)p)[i];
  uint16_t h = ((const uint16_t*)p)[i];
  if (t == 14) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
  if (t == 2) { // f16
    uint32_t s = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0x1f) u = s | 0x7f800000u | (m << 13);
    else if (e) u = s | ((e + 112) << 23) | (m << 13);
    else { float f = m * 5.9604644775390625e-8f; return s ? -f : f; }
    float f; memcpy(&f, &u, 4); return f;
  }
  abort();
}
extern "C" {
long gemmCalls;
int cublasCreate_v2(void** h) { *h = malloc(1); return 0; }
int cublasDestroy_v2(void* h) { free(h); return 0; }
int cublasSetStream_v2(void*, void*) { return 0; }
int cublasGetVersion_v2(void*, int* v) { *v = 130000; return 0; }
int cublasGemmEx(void*, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int At, int lda,
                 const void* B, int Bt, int ldb, const void* beta, void* C, int Ct, int ldc, int compute, int algo) {
  if (Ct != 0 || compute != 68 || algo != -1 || At != Bt) return 7;
  if ((ta == 1 ? lda < k : lda < m) || (tb == 0 ? ldb < k : ldb < n) || ldc < m) return 7;
  gemmCalls++;
  float a = *(const float*)alpha, b = *(const float*)beta;
  float* c = (float*)C;
  for (int j = 0; j < n; j++) for (int i = 0; i < m; i++) {
    float s = 0;
    for (int p = 0; p < k; p++) {
      float x = ta == 0 ? ld(A, At, i + (long)p * lda) : ld(A, At, p + (long)i * lda);
      float y = tb == 0 ? ld(B, Bt, p + (long)j * ldb) : ld(B, Bt, j + (long)p * ldb);
      s += x * y;
    }
    c[i + (long)j * ldc] = a * s + (b != 0 ? b * c[i + (long)j * ldc] : 0);
  }
  return 0;
}
}
