// Kernels of minitron's CUDA backend, compiled at run time by NVRTC for the device in use.
//
// There is no include directive: NVRTC has no CUDA headers unless given include paths. bf16
// and f16 values are raw 16-bit integers converted with bit operations, vectors are our own
// aligned structs, and only NVRTC's built-in intrinsics and math functions are used.
//
// Weight dtype codes follow tensor.DType: 0 F32, 1 F16, 2 BF16. Every kernel is extern "C" so
// that the driver finds it by the name the Go side lists (kernels.go).

typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;

struct __attribute__((aligned(16))) u32x4 {
    u32 x, y, z, w;
};
struct __attribute__((aligned(16))) f32x4 {
    float x, y, z, w;
};

#define NEG_INF __int_as_float(0xff800000)

__device__ inline int imin(int a, int b) { return a < b ? a : b; }

// ---- conversions -------------------------------------------------------------------------

__device__ inline float bf16_to_f32(u32 h) { return __uint_as_float(h << 16); }

// Round to nearest, ties to even; NaN stays a quiet NaN with its sign (tensor.Float32ToBF16).
__device__ inline u16 f32_to_bf16(float f)
{
    u32 u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (u16)((u >> 16) | 0x40u);
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    return (u16)(u >> 16);
}

// Exact: every binary16 value is a binary32 value (tensor.F16ToFloat32).
__device__ inline float f16_to_f32(u32 h)
{
    const u32 sign = (h & 0x8000u) << 16;
    const u32 exp = (h >> 10) & 0x1fu;
    const u32 man = h & 0x3ffu;
    if (exp == 0x1fu) {
        return __uint_as_float(sign | 0x7f800000u | (man << 13));
    }
    if (exp != 0) {
        return __uint_as_float(sign | ((exp + 112u) << 23) | (man << 13));
    }
    // Zero or subnormal: man·2⁻²⁴.
    const float f = (float)man * 5.9604644775390625e-8f;
    return sign ? -f : f;
}

// w1 reads element i of a weight of dtype DT as float.
template <int DT> __device__ inline float w1(const void* w, i64 i);
template <> __device__ inline float w1<0>(const void* w, i64 i) { return ((const float*)w)[i]; }
template <> __device__ inline float w1<1>(const void* w, i64 i) { return f16_to_f32(((const u16*)w)[i]); }
template <> __device__ inline float w1<2>(const void* w, i64 i) { return bf16_to_f32(((const u16*)w)[i]); }

// w8 reads elements i…i+7 of a weight (i a multiple of 8, the row 16-byte aligned) with
// 16-byte loads.
template <int DT> __device__ inline void w8(const void* w, i64 i, float* o);
template <> __device__ inline void w8<0>(const void* w, i64 i, float* o)
{
    const f32x4* p = (const f32x4*)((const float*)w + i);
    const f32x4 a = p[0], b = p[1];
    o[0] = a.x; o[1] = a.y; o[2] = a.z; o[3] = a.w;
    o[4] = b.x; o[5] = b.y; o[6] = b.z; o[7] = b.w;
}
template <> __device__ inline void w8<1>(const void* w, i64 i, float* o)
{
    const u32x4 u = *(const u32x4*)((const u16*)w + i);
    o[0] = f16_to_f32(u.x & 0xffffu); o[1] = f16_to_f32(u.x >> 16);
    o[2] = f16_to_f32(u.y & 0xffffu); o[3] = f16_to_f32(u.y >> 16);
    o[4] = f16_to_f32(u.z & 0xffffu); o[5] = f16_to_f32(u.z >> 16);
    o[6] = f16_to_f32(u.w & 0xffffu); o[7] = f16_to_f32(u.w >> 16);
}
template <> __device__ inline void w8<2>(const void* w, i64 i, float* o)
{
    const u32x4 u = *(const u32x4*)((const u16*)w + i);
    o[0] = __uint_as_float(u.x << 16); o[1] = __uint_as_float(u.x & 0xffff0000u);
    o[2] = __uint_as_float(u.y << 16); o[3] = __uint_as_float(u.y & 0xffff0000u);
    o[4] = __uint_as_float(u.z << 16); o[5] = __uint_as_float(u.z & 0xffff0000u);
    o[6] = __uint_as_float(u.w << 16); o[7] = __uint_as_float(u.w & 0xffff0000u);
}

#define GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// round_bf16: activations rounded to bf16 for one tensor-core GEMM (fast precision, single
// rounding).
extern "C" __global__ void round_bf16(u16* __restrict__ dst, const float* __restrict__ src, i64 n)
{
    GRID_STRIDE(i, n) { dst[i] = f32_to_bf16(src[i]); }
}

extern "C" __global__ void copy_f32(float* __restrict__ dst, const float* __restrict__ src, i64 n)
{
    GRID_STRIDE(i, n) { dst[i] = src[i]; }
}

// split_bf16: activations as the sum of two bf16 values, hi = bf16(x) and lo = bf16(x − hi),
// for two tensor-core GEMMs whose f32 sum is W·x to about 2⁻¹⁶ relative (fast precision).
extern "C" __global__ void split_bf16(u16* __restrict__ hi, u16* __restrict__ lo, const float* __restrict__ src, i64 n)
{
    GRID_STRIDE(i, n)
    {
        const float x = src[i];
        const u16 h = f32_to_bf16(x);
        hi[i] = h;
        lo[i] = f32_to_bf16(x - bf16_to_f32(h));
    }
}

// split3_bf16: activations as the sum of three bf16 values, hi = bf16(x), mid = bf16(x − hi),
// lo = bf16(x − hi − mid), whose sum is x exactly for normal x (8 significant bits each, 24 in
// all; each difference is exact in f32), for three tensor-core GEMMs (exact precision).
extern "C" __global__ void split3_bf16(u16* __restrict__ hi, u16* __restrict__ mid, u16* __restrict__ lo,
                                       const float* __restrict__ src, i64 n)
{
    GRID_STRIDE(i, n)
    {
        const float x = src[i];
        const u16 h = f32_to_bf16(x);
        const float r = x - bf16_to_f32(h);
        const u16 m = f32_to_bf16(r);
        hi[i] = h;
        mid[i] = m;
        lo[i] = f32_to_bf16(r - bf16_to_f32(m));
    }
}

// widen_bf16, widen_f16: a block of weights widened to f32 for an f32 GEMM (exact precision).
extern "C" __global__ void widen_bf16(float* __restrict__ dst, const u16* __restrict__ src, i64 n)
{
    GRID_STRIDE(i, n) { dst[i] = bf16_to_f32(src[i]); }
}

extern "C" __global__ void widen_f16(float* __restrict__ dst, const u16* __restrict__ src, i64 n)
{
    GRID_STRIDE(i, n) { dst[i] = f16_to_f32(src[i]); }
}

// ---- reductions --------------------------------------------------------------------------

__device__ inline float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

__device__ inline float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

// block_sum and block_max return the reduction over the block to every thread. blockDim.x is
// a multiple of 32; red holds at least blockDim.x/32 floats. Every thread reads the partial
// results in the same order, so all agree bit for bit.
__device__ inline float block_sum(float v, float* red)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) {
        red[warp] = v;
    }
    __syncthreads();
    float t = 0.f;
    for (int i = 0; i < nwarps; i++) {
        t += red[i];
    }
    __syncthreads();
    return t;
}

__device__ inline float block_max(float v, float* red)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_max(v);
    if (lane == 0) {
        red[warp] = v;
    }
    __syncthreads();
    float t = NEG_INF;
    for (int i = 0; i < nwarps; i++) {
        t = fmaxf(t, red[i]);
    }
    __syncthreads();
    return t;
}

// ---- matrix-vector products --------------------------------------------------------------

// gemv computes y[r, row] = Σ_c x[r, c]·w[row, c] for r < n ≤ N: one warp per row of w, which
// is read once for all n rows of x. The weight stays in its dtype and x in f32, so the result
// is as exact as an f32 dot product whatever the precision; decoding is bound by reading w.
// vec: k is a multiple of 8 and w, x are 16-byte aligned, so each lane loads 8 elements at once.
// ep says what is stored: the product (GEMV_STORE), y plus it (the residual connection), or
// its positive part squared (the MLP's activation), the bits of the separate kernels.
#define GEMV_WARPS 8
#define GEMV_STORE 0
#define GEMV_ACCUMULATE 1
#define GEMV_SQUARED_RELU 2

template <int DT, int N>
__device__ inline void gemv(float* __restrict__ y, const float* __restrict__ x, const void* __restrict__ w,
                            int n, int k, int m, int vec, int ep)
{
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (row >= m) {
        return;
    }
    float acc[N];
#pragma unroll
    for (int r = 0; r < N; r++) {
        acc[r] = 0.f;
    }
    const i64 base = (i64)row * k;
    if (vec) {
#pragma unroll 4
        for (int c = lane * 8; c < k; c += 256) {
            float wv[8];
            w8<DT>(w, base + c, wv);
#pragma unroll
            for (int r = 0; r < N; r++) {
                if (r < n) {
                    const f32x4* xp = (const f32x4*)(x + (i64)r * k + c);
                    const f32x4 a = xp[0], b = xp[1];
                    float s = acc[r];
                    s = fmaf(a.x, wv[0], s); s = fmaf(a.y, wv[1], s);
                    s = fmaf(a.z, wv[2], s); s = fmaf(a.w, wv[3], s);
                    s = fmaf(b.x, wv[4], s); s = fmaf(b.y, wv[5], s);
                    s = fmaf(b.z, wv[6], s); s = fmaf(b.w, wv[7], s);
                    acc[r] = s;
                }
            }
        }
    } else {
        for (int c = lane; c < k; c += 32) {
            const float wv = w1<DT>(w, base + c);
#pragma unroll
            for (int r = 0; r < N; r++) {
                if (r < n) {
                    acc[r] = fmaf(x[(i64)r * k + c], wv, acc[r]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < N; r++) {
        acc[r] = warp_sum(acc[r]);
    }
    if (lane == 0) {
#pragma unroll
        for (int r = 0; r < N; r++) {
            if (r < n) {
                float* p = y + (i64)r * m + row;
                float v = acc[r];
                if (ep == GEMV_ACCUMULATE) {
                    v += *p;
                } else if (ep == GEMV_SQUARED_RELU) {
                    v = fmaxf(v, 0.f);
                    v *= v;
                }
                *p = v;
            }
        }
    }
}

#define GEMV_KERNEL(name, DT, N)                                                                   \
    extern "C" __global__ void name(float* __restrict__ y, const float* __restrict__ x,           \
                                    const void* __restrict__ w, int n, int k, int m, int vec,     \
                                    int ep)                                                        \
    {                                                                                              \
        gemv<DT, N>(y, x, w, n, k, m, vec, ep);                                                   \
    }

GEMV_KERNEL(gemv_f32_1, 0, 1)
GEMV_KERNEL(gemv_f32_2, 0, 2)
GEMV_KERNEL(gemv_f32_4, 0, 4)
GEMV_KERNEL(gemv_f32_8, 0, 8)
GEMV_KERNEL(gemv_f16_1, 1, 1)
GEMV_KERNEL(gemv_f16_2, 1, 2)
GEMV_KERNEL(gemv_f16_4, 1, 4)
GEMV_KERNEL(gemv_f16_8, 1, 8)
GEMV_KERNEL(gemv_bf16_1, 2, 1)
GEMV_KERNEL(gemv_bf16_2, 2, 2)
GEMV_KERNEL(gemv_bf16_4, 2, 4)
GEMV_KERNEL(gemv_bf16_8, 2, 8)

// ---- normalisation, rotary, element-wise -------------------------------------------------

// layernorm1p: one block per row. Two passes over the row (mean, then the biased variance of
// the centred values) keep the precision of a row with a large mean. dst may be x: each
// thread reads an element before it writes it, after both reductions.
extern "C" __global__ void layernorm1p(float* dst, const float* x, const float* __restrict__ w,
                                       const float* __restrict__ b, int cols, float eps)
{
    __shared__ float red[32];
    const i64 row = blockIdx.x;
    const float* xr = x + row * cols;
    float* dr = dst + row * cols;
    float s = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        s += xr[c];
    }
    const float mean = block_sum(s, red) / (float)cols;
    float v = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        const float d = xr[c] - mean;
        v += d * d;
    }
    const float var = block_sum(v, red) / (float)cols;
    const float rstd = 1.0f / sqrtf(var + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        dr[c] = (xr[c] - mean) * rstd * (1.0f + w[c]) + b[c];
    }
}

// rotary_kv: one thread per element of rows of qkv (a position's queries, keys and values
// side by side) writes it to q, or to row pos0+row of the key or the value cache. The first
// 2·half dimensions of each query and key head turn: dimension i < half pairs with i+half by
// the angle (pos0+row)·inv[i], formed in f32 as transformers does; cos and sin are evaluated
// in double and rounded, as the CPU backend does (tensor.RopeAngles). kc and vc point at row
// pos0 of the caches.
__device__ inline void store_kv(float* p, float v) { *p = v; }
__device__ inline void store_kv(u16* p, float v) { *p = f32_to_bf16(v); }

template <typename KT>
__device__ inline void rotary_kv_t(float* __restrict__ q, KT* __restrict__ kc, KT* __restrict__ vc,
                                   const float* __restrict__ qkv, const float* __restrict__ inv, int rows,
                                   int heads, int kvHeads, int headDim, int half, int pos0)
{
    const int qd = heads * headDim, kvd = kvHeads * headDim, w = qd + 2 * kvd;
    GRID_STRIDE(t, (i64)rows * w)
    {
        const int c = (int)(t % w);
        const int r = (int)(t / w);
        const float* src = qkv + (i64)r * w;
        float out = src[c];
        const int d = c % headDim;
        if (c < qd + kvd && d < 2 * half) {
            const int i = d < half ? d : d - half;
            const float a = (float)(pos0 + r) * inv[i];
            double sd, cd;
            sincos((double)a, &sd, &cd);
            const float co = (float)cd, si = (float)sd;
            const float x0 = src[c - d + i], x1 = src[c - d + i + half];
            out = d < half ? x0 * co - x1 * si : x1 * co + x0 * si;
        }
        if (c < qd) {
            q[(i64)r * qd + c] = out;
        } else if (c < qd + kvd) {
            store_kv(kc + (i64)r * kvd + (c - qd), out);
        } else {
            store_kv(vc + (i64)r * kvd + (c - qd - kvd), out);
        }
    }
}

extern "C" __global__ void rotary_kv(float* q, float* kc, float* vc, const float* qkv, const float* inv,
                                     int rows, int heads, int kvHeads, int headDim, int half, int pos0)
{
    rotary_kv_t<float>(q, kc, vc, qkv, inv, rows, heads, kvHeads, headDim, half, pos0);
}

extern "C" __global__ void rotary_kv_bf16(float* q, u16* kc, u16* vc, const float* qkv, const float* inv,
                                          int rows, int heads, int kvHeads, int headDim, int half, int pos0)
{
    rotary_kv_t<u16>(q, kc, vc, qkv, inv, rows, heads, kvHeads, headDim, half, pos0);
}

extern "C" __global__ void relu2(float* x, i64 n)
{
    GRID_STRIDE(i, n)
    {
        const float v = fmaxf(x[i], 0.f);
        x[i] = v * v;
    }
}

extern "C" __global__ void add(float* dst, const float* x, i64 n)
{
    GRID_STRIDE(i, n) { dst[i] += x[i]; }
}

// ---- embedding ---------------------------------------------------------------------------

// The token ids travel in the kernel's parameters (copied by the launch), so that no host
// memory has to outlive the call and no copy has to be queued.
#define EMBED_IDS 256
struct EmbedIds {
    int id[EMBED_IDS];
};

template <int DT>
__device__ inline void embed_row(float* __restrict__ dst, const void* __restrict__ table, int width, int vocab, int id)
{
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= width) {
        return;
    }
    dst[(i64)blockIdx.x * width + c] = (id >= 0 && id < vocab) ? w1<DT>(table, (i64)id * width + c) : 0.f;
}

// grid.x = row of dst (< EMBED_IDS), grid.y = block of columns.
extern "C" __global__ void embed_f32(float* dst, const void* table, int width, int vocab, EmbedIds ids)
{
    embed_row<0>(dst, table, width, vocab, ids.id[blockIdx.x]);
}
extern "C" __global__ void embed_f16(float* dst, const void* table, int width, int vocab, EmbedIds ids)
{
    embed_row<1>(dst, table, width, vocab, ids.id[blockIdx.x]);
}
extern "C" __global__ void embed_bf16(float* dst, const void* table, int width, int vocab, EmbedIds ids)
{
    embed_row<2>(dst, table, width, vocab, ids.id[blockIdx.x]);
}

// ---- attention ---------------------------------------------------------------------------

// attention: causal softmax(q·kᵀ·scale)·v for decoding (and prompts attention_tiled does not
// take), a block per query row, KV head and split of the keys, computing every query head that
// shares the KV head (grouped-query attention: up to ATT_G of them per block, a wider group
// takes several blocks), so that each key and value row is read from memory once per group
// instead of once per query head. Tiles of ATT_TILE keys with a running maximum (online
// softmax) keep shared memory fixed whatever the context.
//
// grid.x = (query row · kvHeads + KV head) · groups + group, groups = ceil(G / ATT_G) with
// G = heads / kvHeads; grid.y = split; blockDim.x = ATT_THREADS ≥ headDim.
// Split s covers keys [s·chunk, (s+1)·chunk) ∩ [0, pos0+row]. With one split the result goes
// to dst; with several, each query head's unnormalised output, maximum and sum go to part
// [row, head, split, headDim+2] and attention_combine merges them.
//
// Scores: each warp takes a key at a time, its lanes splitting the head dimension; the key
// row is loaded once into registers and met by each query vector of the group (in shared
// memory: in registers they would take 64 a thread, and halve the blocks an SM holds). Softmax: warp g updates the running maximum and sum of query head g over the
// tile. Values: thread t accumulates dimension t % headDim of every query head of the group
// over the keys ≡ t / headDim modulo the number of such slices, reading each value once.
#define ATT_THREADS 256
#define ATT_TILE 256
#define ATT_MAXD 256
#define ATT_G 8 // ≤ ATT_THREADS / 32: a warp per query head for the softmax

// KT is the KV cache's dtype code (0 F32, 2 BF16: its values widened exactly as they are
// read, so that a BF16 cache gives the bits of an F32 one holding the same values).
template <int KT>
__device__ inline void attention_kv(float* __restrict__ dst, float* __restrict__ part,
                                    const float* __restrict__ q, const void* __restrict__ kc,
                                    const void* __restrict__ vc, int heads, int kvHeads, int D,
                                    int pos0, int chunk, float scale)
{
    __shared__ float qs[ATT_G][ATT_MAXD];
    __shared__ float sc[ATT_G][ATT_TILE];
    __shared__ float accs[ATT_G][ATT_THREADS];
    __shared__ float ms[ATT_G], ls[ATT_G], cs[ATT_G];

    const int G = heads / kvHeads;
    const int groups = (G + ATT_G - 1) / ATT_G;
    const int grp = blockIdx.x % groups;
    const int kh = (blockIdx.x / groups) % kvHeads;
    const int i = blockIdx.x / groups / kvHeads;
    const int h0 = kh * G + grp * ATT_G; // the block's first query head
    const int ng = imin(ATT_G, G - grp * ATT_G);
    const int split = blockIdx.y, splits = gridDim.y;
    const int qc = heads * D, kvc = kvHeads * D, off = kh * D;
    const int seen = pos0 + i + 1;
    const int j0 = split * chunk;
    const int j1 = imin(seen, j0 + chunk);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nwarps = blockDim.x >> 5;

    for (int idx = tid; idx < ATT_G * ATT_MAXD; idx += blockDim.x) {
        const int g = idx / ATT_MAXD, dd = idx % ATT_MAXD;
        qs[g][dd] = (g < ng && dd < D) ? q[(i64)i * qc + (i64)(h0 + g) * D + dd] : 0.f;
    }
    if (tid < ATT_G) {
        ms[tid] = NEG_INF;
        ls[tid] = 0.f;
    }
    __syncthreads(); // the queries are in shared memory

    const int slices = blockDim.x / D;
    const int d = tid % D, slice = tid / D;
    const bool active = slice < slices;
    float acc[ATT_G];
#pragma unroll
    for (int g = 0; g < ATT_G; g++) {
        acc[g] = 0.f;
    }

    for (int t0 = j0; t0 < j1; t0 += ATT_TILE) {
        const int tn = imin(ATT_TILE, j1 - t0);
        for (int j = warp; j < tn; j += nwarps) {
            const i64 kr = (i64)(t0 + j) * kvc + off;
            float kv[ATT_MAXD / 32];
#pragma unroll
            for (int t = 0; t < ATT_MAXD / 32; t++) {
                const int dd = lane + 32 * t;
                kv[t] = dd < D ? w1<KT>(kc, kr + dd) : 0.f;
            }
#pragma unroll
            for (int g = 0; g < ATT_G; g++) {
                if (g < ng) {
                    float dot = 0.f;
#pragma unroll
                    for (int t = 0; t < ATT_MAXD / 32; t++) {
                        dot = fmaf(qs[g][lane + 32 * t], kv[t], dot);
                    }
                    dot = warp_sum(dot);
                    if (lane == 0) {
                        sc[g][j] = dot * scale;
                    }
                }
            }
        }
        __syncthreads(); // the tile's scores are written
        if (warp < ng) {
            const int g = warp;
            float mt = NEG_INF;
            for (int j = lane; j < tn; j += 32) {
                mt = fmaxf(mt, sc[g][j]);
            }
            const float mold = ms[g];
            const float mnew = fmaxf(mold, warp_max(mt));
            float lt = 0.f;
            for (int j = lane; j < tn; j += 32) {
                const float p = expf(sc[g][j] - mnew);
                sc[g][j] = p;
                lt += p;
            }
            lt = warp_sum(lt); // its shuffles order the warp's writes of sc before the barrier
            if (lane == 0) {
                const float c = expf(mold - mnew); // 0 on the first tile: mold is -inf
                cs[g] = c;
                ls[g] = ls[g] * c + lt;
                ms[g] = mnew;
            }
        }
        __syncthreads(); // probabilities and corrections are written
        if (active) {
#pragma unroll
            for (int g = 0; g < ATT_G; g++) {
                acc[g] *= g < ng ? cs[g] : 0.f;
            }
            for (int j = slice; j < tn; j += slices) {
                const float v = w1<KT>(vc, (i64)(t0 + j) * kvc + off + d);
#pragma unroll
                for (int g = 0; g < ATT_G; g++) {
                    if (g < ng) {
                        acc[g] = fmaf(sc[g][j], v, acc[g]);
                    }
                }
            }
        }
        __syncthreads(); // sc and cs are rewritten by the next tile
    }

#pragma unroll
    for (int g = 0; g < ATT_G; g++) {
        accs[g][tid] = active ? acc[g] : 0.f;
    }
    __syncthreads();
    for (int idx = tid; idx < ng * D; idx += blockDim.x) {
        const int g = idx / D, dd = idx % D;
        float o = 0.f;
        for (int s = 0; s < slices; s++) {
            o += accs[g][s * D + dd];
        }
        const int h = h0 + g;
        if (splits == 1) {
            dst[(i64)i * qc + (i64)h * D + dd] = o / ls[g];
        } else {
            float* pp = part + (((i64)i * heads + h) * splits + split) * (D + 2);
            pp[dd] = o;
            if (dd == 0) {
                pp[D] = ms[g];
                pp[D + 1] = ls[g];
            }
        }
    }
}

extern "C" __global__ void attention(float* __restrict__ dst, float* __restrict__ part,
                                     const float* __restrict__ q, const void* __restrict__ kc,
                                     const void* __restrict__ vc, int heads, int kvHeads, int D,
                                     int pos0, int chunk, float scale)
{
    attention_kv<0>(dst, part, q, kc, vc, heads, kvHeads, D, pos0, chunk, scale);
}

extern "C" __global__ void attention_bf16(float* __restrict__ dst, float* __restrict__ part,
                                          const float* __restrict__ q, const void* __restrict__ kc,
                                          const void* __restrict__ vc, int heads, int kvHeads, int D,
                                          int pos0, int chunk, float scale)
{
    attention_kv<2>(dst, part, q, kc, vc, heads, kvHeads, D, pos0, chunk, scale);
}

// attention_combine merges the splits of attention: grid.x = query row · heads + head (query
// heads, not the KV heads attention's blocks are laid out by), blockDim.x ≥ D. A split with no keys has maximum -inf and sum 0 and weighs nothing; the
// first split of every row has at least key 0.
extern "C" __global__ void attention_combine(float* __restrict__ dst, const float* __restrict__ part,
                                             int heads, int D, int splits)
{
    const int d = threadIdx.x;
    if (d >= D) {
        return;
    }
    const int h = blockIdx.x % heads;
    const int i = blockIdx.x / heads;
    const float* pp = part + (i64)blockIdx.x * splits * (D + 2);
    float mx = NEG_INF;
    for (int s = 0; s < splits; s++) {
        mx = fmaxf(mx, pp[(i64)s * (D + 2) + D]);
    }
    float num = 0.f, den = 0.f;
    for (int s = 0; s < splits; s++) {
        const float* ps = pp + (i64)s * (D + 2);
        const float wgt = expf(ps[D] - mx);
        num = fmaf(wgt, ps[d], num);
        den = fmaf(wgt, ps[D + 1], den);
    }
    dst[(i64)i * heads * D + (i64)h * D + d] = num / den;
}

// attention_tiled: the same causal attention for prompts, a block per tile of query rows and
// KV head: the block's rowsPerBlock rows times the heads/kvHeads query heads that share the KV
// head (at most AT_QV query vectors) meet each tile of AT_BK keys and values once, in shared
// memory, instead of every query row reading every key from memory.
//
// grid.x = tile of rows, grid.y = KV head; blockDim.x = 256; headDim ≤ AT_D and a multiple of
// 4. Scores: warp w computes query vectors w, w+8, w+16, w+24 against the tile's keys, a key
// per lane, then keeps each vector's running maximum and sum (online softmax). Values: thread
// t accumulates dimension t % AT_D of query vectors t / AT_D, t / AT_D + 2, ….
#define AT_BK 32
#define AT_QV 32
#define AT_D 128
#define AT_KPAD 132 // row stride of the key/value tile: 16-byte rows, conflict-free columns

template <int KT>
__device__ inline void attention_tiled_kv(float* __restrict__ dst, const float* __restrict__ q,
                                          const void* __restrict__ kc, const void* __restrict__ vc,
                                          int n, int heads, int kvHeads, int D, int pos0,
                                          int rowsPerBlock, float scale)
{
    __shared__ __attribute__((aligned(16))) float Qs[AT_QV][AT_D];
    __shared__ __attribute__((aligned(16))) float KV[AT_BK][AT_KPAD];
    __shared__ __attribute__((aligned(16))) float Ps[AT_QV][AT_BK];
    __shared__ float ms[AT_QV], ls[AT_QV], cs[AT_QV];

    const int G = heads / kvHeads;
    const int kh = blockIdx.y;
    const int i0 = blockIdx.x * rowsPerBlock;
    const int rows = imin(rowsPerBlock, n - i0);
    const int nqv = rows * G;
    const int qc = heads * D, kvc = kvHeads * D;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    // Query vector v is row i0 + v / G of query head kh·G + v % G.
    for (int idx = tid; idx < AT_QV * AT_D; idx += blockDim.x) {
        const int v = idx / AT_D, d = idx % AT_D;
        float x = 0.f;
        if (v < nqv && d < D) {
            x = q[(i64)(i0 + v / G) * qc + (i64)(kh * G + v % G) * D + d];
        }
        Qs[v][d] = x;
    }
    if (tid < AT_QV) {
        ms[tid] = NEG_INF;
        ls[tid] = 0.f;
    }
    const int pd = tid % AT_D, pg = tid / AT_D;
    float acc[AT_QV / 2];
#pragma unroll
    for (int j = 0; j < AT_QV / 2; j++) {
        acc[j] = 0.f;
    }

    const int keys = pos0 + i0 + rows; // the keys the block's last row sees
    for (int j0 = 0; j0 < keys; j0 += AT_BK) {
        __syncthreads(); // the previous tile's values are read; Qs, ms, ls are written
        for (int idx = tid; idx < AT_BK * AT_D; idx += blockDim.x) {
            const int key = idx / AT_D, d = idx % AT_D;
            KV[key][d] = (j0 + key < keys && d < D) ? w1<KT>(kc, (i64)(j0 + key) * kvc + (i64)kh * D + d) : 0.f;
        }
        __syncthreads();
        {
            float s[4] = {0.f, 0.f, 0.f, 0.f};
            for (int d = 0; d < D; d += 4) {
                const f32x4 kv = *(const f32x4*)&KV[lane][d];
#pragma unroll
                for (int t = 0; t < 4; t++) {
                    const f32x4 qq = *(const f32x4*)&Qs[warp + 8 * t][d];
                    s[t] = fmaf(qq.x, kv.x, fmaf(qq.y, kv.y, fmaf(qq.z, kv.z, fmaf(qq.w, kv.w, s[t]))));
                }
            }
#pragma unroll
            for (int t = 0; t < 4; t++) {
                const int v = warp + 8 * t;
                const bool seen = v < nqv && j0 + lane <= pos0 + i0 + v / G;
                const float sc = seen ? s[t] * scale : NEG_INF;
                const float mold = ms[v];
                const float mnew = fmaxf(mold, warp_max(sc));
                const float p = seen ? expf(sc - mnew) : 0.f;
                const float psum = warp_sum(p);
                Ps[v][lane] = p;
                __syncwarp();
                if (lane == 0) {
                    const float c = mnew == NEG_INF ? 1.f : expf(mold - mnew);
                    cs[v] = c;
                    ls[v] = ls[v] * c + psum;
                    ms[v] = mnew;
                }
            }
        }
        __syncthreads(); // probabilities and corrections are written; the keys are read
        for (int idx = tid; idx < AT_BK * AT_D; idx += blockDim.x) {
            const int key = idx / AT_D, d = idx % AT_D;
            KV[key][d] = (j0 + key < keys && d < D) ? w1<KT>(vc, (i64)(j0 + key) * kvc + (i64)kh * D + d) : 0.f;
        }
        __syncthreads();
        if (pd < D) {
#pragma unroll
            for (int j = 0; j < AT_QV / 2; j++) {
                acc[j] *= cs[pg + 2 * j];
            }
            for (int key = 0; key < AT_BK; key += 4) {
                const float v0 = KV[key][pd], v1 = KV[key + 1][pd], v2 = KV[key + 2][pd], v3 = KV[key + 3][pd];
#pragma unroll
                for (int j = 0; j < AT_QV / 2; j++) {
                    const f32x4 p = *(const f32x4*)&Ps[pg + 2 * j][key];
                    acc[j] = fmaf(p.x, v0, fmaf(p.y, v1, fmaf(p.z, v2, fmaf(p.w, v3, acc[j]))));
                }
            }
        }
    }
    if (pd < D) {
#pragma unroll
        for (int j = 0; j < AT_QV / 2; j++) {
            const int v = pg + 2 * j;
            if (v < nqv) {
                dst[(i64)(i0 + v / G) * qc + (i64)(kh * G + v % G) * D + pd] = acc[j] / ls[v];
            }
        }
    }
}

extern "C" __global__ void attention_tiled(float* __restrict__ dst, const float* __restrict__ q,
                                           const void* __restrict__ kc, const void* __restrict__ vc,
                                           int n, int heads, int kvHeads, int D, int pos0,
                                           int rowsPerBlock, float scale)
{
    attention_tiled_kv<0>(dst, q, kc, vc, n, heads, kvHeads, D, pos0, rowsPerBlock, scale);
}

extern "C" __global__ void attention_tiled_bf16(float* __restrict__ dst, const float* __restrict__ q,
                                                const void* __restrict__ kc, const void* __restrict__ vc,
                                                int n, int heads, int kvHeads, int D, int pos0,
                                                int rowsPerBlock, float scale)
{
    attention_tiled_kv<2>(dst, q, kc, vc, n, heads, kvHeads, D, pos0, rowsPerBlock, scale);
}

// ---- greedy sampling ---------------------------------------------------------------------

// argmax writes to out[0] the lowest index of the largest of x[0…n) (backend.Argmaxer), so
// that greedy decoding brings 4 bytes back per token instead of the logits. One block of
// ARGMAX_THREADS: thread t scans x[t], x[t+blockDim.x], … keeping its first largest, then the
// block reduces the (value, index) pairs, the lower index winning a tie. NaN fails every
// comparison, so it is never chosen over a number; a thread that saw only NaNs holds index -1,
// and all NaNs give 0. One block reads the 1 MB of Minitron's logits in microseconds, less
// than the copy it saves.
#define ARGMAX_THREADS 1024

// argmax: one block per row of n values writes the lowest index of the row's largest value
// (NaN never chosen; a row of NaNs gives 0) to out[row].
extern "C" __global__ void argmax(int* __restrict__ out, const float* __restrict__ xs, i64 n)
{
    __shared__ float sv[ARGMAX_THREADS];
    const float* x = xs + (i64)blockIdx.x * n;
    __shared__ i64 si[ARGMAX_THREADS];
    const int tid = threadIdx.x;
    float best = NEG_INF;
    i64 bi = -1;
    for (i64 i = tid; i < n; i += blockDim.x) {
        const float v = x[i];
        if (v > best || (bi < 0 && v == v)) {
            best = v;
            bi = i;
        }
    }
    sv[tid] = best;
    si[tid] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) {
            const float ov = sv[tid + s];
            const i64 oi = si[tid + s];
            const i64 mi = si[tid];
            if (oi >= 0 && (mi < 0 || ov > sv[tid] || (ov == sv[tid] && oi < mi))) {
                sv[tid] = ov;
                si[tid] = oi;
            }
        }
        __syncthreads();
    }
    if (tid == 0) {
        out[blockIdx.x] = si[0] < 0 ? 0 : (int)si[0];
    }
}
