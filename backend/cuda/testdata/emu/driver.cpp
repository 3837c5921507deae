// A stand-in for the CUDA driver (libcuda.so.1) that runs kernels.cu on the CPU: see README.md.
// Build: g++ -std=c++20 -O2 -fPIC -shared -include prelude.h -DKERNELS='"…/kernels.cu"' driver.cpp
#include "prelude.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

Dim3 threadIdx, blockIdx, blockDim, gridDim;

// ---- fibers: a block's threads, switched by hand (callee-saved registers and the stack) ----
struct Ctx { void* rsp; };
extern "C" void ctx_switch(Ctx* from, Ctx* to);
asm(R"(
.text
.globl ctx_switch
.type ctx_switch,@function
ctx_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq (%rsi), %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
)");

typedef void (*Tramp)(void** params);
struct Barrier { int expected = 0, arrived = 0; long gen = 0; };
struct Fiber { Ctx ctx; char* stack; bool done; };
static const int kStack = 64 << 10;
static std::vector<Fiber> fibers;
static Ctx sched;
static int cur;
static Tramp curFn;
static void** curParams;
static Barrier blockBar;
static std::vector<Barrier> warpBars;
static std::vector<float> warpBuf;

// A barrier releases when every live thread it counts has arrived; a thread that returns from
// the kernel stops counting (as on a GPU, where exited threads do not hold __syncthreads).
static void yield() { ctx_switch(&fibers[cur].ctx, &sched); }
static void setIdx() { threadIdx.x = cur; threadIdx.y = threadIdx.z = 0; }

static void wait(Barrier& b) {
  long g = b.gen;
  if (++b.arrived == b.expected) { b.arrived = 0; b.gen++; return; }
  while (b.gen == g) yield();
}
static void drop(Barrier& b) {
  b.expected--;
  if (b.arrived > 0 && b.arrived == b.expected) { b.arrived = 0; b.gen++; }
}
void emu_syncthreads() { wait(blockBar); }
void emu_syncwarp() { wait(warpBars[cur / 32]); }
float emu_shfl_xor(float v, int o) {
  int w = cur / 32, lane = cur % 32;
  warpBuf[cur] = v;
  wait(warpBars[w]);
  float r = warpBuf[w * 32 + (lane ^ o)];
  wait(warpBars[w]);
  return r;
}
static void entry() {
  curFn(curParams);
  fibers[cur].done = true;
  drop(blockBar);
  drop(warpBars[cur / 32]);
  for (;;) yield();
}
static void runBlock(int n) {
  if ((int)fibers.size() < n) {
    size_t old = fibers.size();
    fibers.resize(n);
    for (size_t i = old; i < fibers.size(); i++) fibers[i].stack = (char*)aligned_alloc(64, kStack);
  }
  blockBar = Barrier{n, 0, 0};
  int nw = (n + 31) / 32;
  warpBars.assign(nw, Barrier{});
  for (int w = 0; w < nw; w++) warpBars[w].expected = (w == nw - 1 && n % 32) ? n % 32 : 32;
  warpBuf.assign(nw * 32, 0.f);
  for (int i = 0; i < n; i++) {
    Fiber& f = fibers[i];
    f.done = false;
    uintptr_t top = ((uintptr_t)(f.stack + kStack)) & ~(uintptr_t)15;
    void** sp = (void**)top;
    *--sp = nullptr;            // fake return address of entry
    *--sp = (void*)&entry;      // where ctx_switch returns to
    for (int r = 0; r < 6; r++) *--sp = nullptr;
    f.ctx.rsp = sp;
  }
  for (int live = n; live > 0;) {
    live = 0;
    for (int i = 0; i < n; i++) {
      if (fibers[i].done) continue;
      cur = i;
      setIdx();
      ctx_switch(&sched, &fibers[i].ctx);
      if (!fibers[i].done) live++;
    }
  }
}

// ---- the kernels, compiled for the CPU ----
#include KERNELS

// Each kernel's entry calls it with its parameters read from the launch's pointers, and
// knows their sizes, which a graph node copies as the driver does.
struct Kernel { const char* name; Tramp fn; std::vector<size_t> sizes; };
template <typename... A, size_t... I>
static void callWith(void (*f)(A...), void** p, std::index_sequence<I...>) { f(*(A*)p[I]...); }
template <typename... A>
static void call(void (*f)(A...), void** p) { callWith(f, p, std::index_sequence_for<A...>{}); }
template <typename... A>
static std::vector<size_t> sizesOf(void (*)(A...)) { return {sizeof(A)...}; }
#define K(name) Kernel{#name, [](void** p) { call(name, p); }, sizesOf(name)}
static Kernel kernels[] = {
  K(round_bf16), K(copy_f32), K(split_bf16), K(split3_bf16), K(widen_bf16), K(widen_f16),
  K(layernorm1p), K(rotary_kv), K(rotary_kv_bf16), K(relu2), K(add),
  K(embed_f32), K(embed_f16), K(embed_bf16),
  K(attention), K(attention_bf16), K(attention_tiled), K(attention_tiled_bf16), K(attention_combine),
  K(argmax),
  K(gemv_f32_1), K(gemv_f32_2), K(gemv_f32_4), K(gemv_f32_8),
  K(gemv_f16_1), K(gemv_f16_2), K(gemv_f16_4), K(gemv_f16_8),
  K(gemv_bf16_1), K(gemv_bf16_2), K(gemv_bf16_4), K(gemv_bf16_8),
};

// ---- the driver API ----
typedef unsigned long long dptr;
static void* curCtx;
static int ctxDummy;
extern "C" {
int cuInit(unsigned) { return 0; }
int cuDriverGetVersion(int* v) { *v = 13000; return 0; }
int cuDeviceGetCount(int* c) { *c = 1; return 0; }
int cuDeviceGet(int* d, int o) { if (o != 0) return 101; *d = 0; return 0; }
int cuDeviceGetName(char* n, int len, int) { snprintf(n, len, "Emulated GPU"); return 0; }
int cuDeviceGetAttribute(int* v, int a, int) { *v = a == 75 ? 9 : a == 76 ? 0 : a == 16 ? 132 : 0; return 0; }
int cuDeviceTotalMem_v2(size_t* b, int) { *b = 80ull << 30; return 0; }
int cuDevicePrimaryCtxRetain(void** c, int) { *c = &ctxDummy; return 0; }
int cuDevicePrimaryCtxRelease_v2(int) { return 0; }
int cuCtxGetCurrent(void** c) { *c = curCtx; return 0; }
int cuCtxSetCurrent(void* c) { curCtx = c; return 0; }
static int need() { return curCtx == &ctxDummy ? 0 : 201; } // CUDA_ERROR_INVALID_CONTEXT
int cuStreamCreate(void** s, unsigned) { *s = malloc(1); return need(); }
int cuStreamDestroy_v2(void* s) { free(s); return need(); }
int cuStreamSynchronize(void*) { return need(); }
int cuMemGetInfo_v2(size_t* f, size_t* t) { *f = 70ull << 30; *t = 80ull << 30; return need(); }
// Fresh memory holds garbage, as on a GPU, so that a missing clear shows.
int cuMemAlloc_v2(dptr* p, size_t n) { if (n == 0) return 1; void* m = aligned_alloc(256, (n + 255) & ~(size_t)255); memset(m, 0xA5, n); *p = (dptr)m; return need(); }
int cuMemFree_v2(dptr p) { free((void*)p); return need(); }
int cuMemAllocHost_v2(void** p, size_t n) { *p = malloc(n); return need(); }
int cuMemFreeHost(void* p) { free(p); return need(); }
int cuMemcpyHtoD_v2(dptr d, const void* s, size_t n) { memcpy((void*)d, s, n); return need(); }
int cuMemcpyDtoHAsync_v2(void* d, dptr s, size_t n, void*) { memcpy(d, (void*)s, n); return need(); }
int cuMemcpyDtoDAsync_v2(dptr d, dptr s, size_t n, void*) { memmove((void*)d, (void*)s, n); return need(); }
int cuMemsetD8Async(dptr d, unsigned char v, size_t n, void*) { memset((void*)d, v, n); return need(); }
int cuModuleLoadData(void** m, const void* img) { *m = (void*)img; return need(); }
int cuModuleUnload(void*) { return need(); }
int cuModuleGetFunction(void** f, void*, const char* name) {
  for (auto& k : kernels) if (strcmp(k.name, name) == 0) { *f = &k; return need(); }
  return 500; // CUDA_ERROR_NOT_FOUND
}
static int checkLaunch(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared, void** extra) {
  if (by != 1 || bz != 1 || gz != 1 || bx > 1024 || bx == 0 || gx == 0 || gy == 0 || gy > 65535 || extra) return 1;
  if (bx % 32) return 1; // the kernels' warp reductions assume whole warps
  if (shared) return 1;  // the kernels use static shared memory only
  return 0;
}
static void run(Kernel* k, unsigned gx, unsigned gy, unsigned bx, void** params) {
  gridDim = {gx, gy, 1}; blockDim = {bx, 1, 1};
  curFn = k->fn; curParams = params;
  for (unsigned y = 0; y < gy; y++) for (unsigned x = 0; x < gx; x++) { blockIdx = {x, y, 0}; runBlock(bx); }
}
int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared, void*, void** params, void** extra) {
  if (need()) return need();
  if (checkLaunch(gx, gy, gz, bx, by, bz, shared, extra)) return 1;
  run((Kernel*)f, gx, gy, bx, params);
  return 0;
}

// Graphs: a graph is a chain of kernel nodes (the only kind the backend adds), each holding
// copies of its parameters; an instantiated graph is a copy of the nodes that
// cuGraphExecKernelNodeSetParams changes and cuGraphLaunch runs in order.
struct NodeParams { // CUDA_KERNEL_NODE_PARAMS_v2
  void* func; unsigned gx, gy, gz, bx, by, bz, shared; void** params; void** extra; void* kern; void* ctx;
};
struct Node { Kernel* k; unsigned gx, gy, bx; std::vector<std::vector<char>> args; };
struct GraphNode { size_t i; };
struct Graph { std::vector<Node> nodes; std::vector<std::unique_ptr<GraphNode>> handles; };
struct Exec { std::vector<Node> nodes; };
static int makeNode(Node* n, const NodeParams* p) {
  if (checkLaunch(p->gx, p->gy, p->gz, p->bx, p->by, p->bz, p->shared, p->extra) || p->kern) return 1;
  n->k = (Kernel*)p->func; n->gx = p->gx; n->gy = p->gy; n->bx = p->bx;
  n->args.clear();
  for (size_t i = 0; i < n->k->sizes.size(); i++) {
    const char* v = (const char*)p->params[i];
    n->args.emplace_back(v, v + n->k->sizes[i]);
  }
  return 0;
}
long graphLaunches;
int cuGraphCreate(void** g, unsigned) { *g = new Graph; return need(); }
int cuGraphAddKernelNode_v2(void** node, void* g, void* const* deps, size_t ndeps, const NodeParams* p) {
  Graph* gr = (Graph*)g;
  // The backend chains each node to the one before: that is the order the emulation runs.
  if (ndeps != (gr->nodes.empty() ? 0 : 1)) return 1;
  if (ndeps == 1 && ((GraphNode*)deps[0])->i != gr->nodes.size() - 1) return 1;
  Node n;
  if (makeNode(&n, p)) return 1;
  gr->nodes.push_back(n);
  gr->handles.emplace_back(new GraphNode{gr->nodes.size() - 1});
  *node = gr->handles.back().get();
  return need();
}
// MINITRON_EMU_GRAPH_FAIL=instantiate or =launch makes that call fail, as a driver might,
// for the tests of the backend's fallback.
static bool failing(const char* call) {
  const char* f = getenv("MINITRON_EMU_GRAPH_FAIL");
  return f && strcmp(f, call) == 0;
}
int cuGraphInstantiateWithFlags(void** exec, void* g, unsigned long long flags) {
  if (flags) return 1;
  if (failing("instantiate")) return 801; // CUDA_ERROR_NOT_SUPPORTED
  *exec = new Exec{((Graph*)g)->nodes};
  return need();
}
int cuGraphExecKernelNodeSetParams_v2(void* exec, void* node, const NodeParams* p) {
  Exec* e = (Exec*)exec;
  size_t i = ((GraphNode*)node)->i;
  if (i >= e->nodes.size()) return 1;
  return makeNode(&e->nodes[i], p) ? 1 : need();
}
int cuGraphLaunch(void* exec, void*) {
  if (need()) return need();
  if (failing("launch")) return 999; // CUDA_ERROR_UNKNOWN
  graphLaunches++;
  for (Node& n : ((Exec*)exec)->nodes) {
    std::vector<void*> params;
    for (auto& a : n.args) params.push_back(a.data());
    run(n.k, n.gx, n.gy, n.bx, params.data());
  }
  return 0;
}
int cuGraphExecDestroy(void* exec) { delete (Exec*)exec; return need(); }
// The nodes' handles are freed with their graph, as the driver's are.
int cuGraphDestroy(void* g) { delete (Graph*)g; return need(); }
int cuGetErrorName(int s, const char** n) { static char buf[64]; snprintf(buf, 64, "CUDA_ERROR_EMU_%d", s); *n = buf; return 0; }
}
