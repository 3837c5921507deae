// CPU emulation of the CUDA C++ subset used by kernels.cu: blocks run one after another,
// the threads of a block as fibers on one OS thread, with barriers for __syncthreads and
// for warp shuffles.
#pragma once
#include <cmath>
#include <cstring>
#include <cstdint>
struct Dim3 { unsigned x, y, z; };
extern Dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __shared__ static
#define __forceinline__ inline
void emu_syncthreads();
float emu_shfl_xor(float v, int o);
#define __syncthreads() emu_syncthreads()
void emu_syncwarp();
#define __syncwarp() emu_syncwarp()
static inline float __shfl_xor_sync(unsigned, float v, int o) { return emu_shfl_xor(v, o); }
static inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
static inline float __int_as_float(int u) { float f; memcpy(&f, &u, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
#include <math.h>
