//go:build linux && cgo

// See shim.h. The signatures below follow NVIDIA's public API documentation of the CUDA
// driver API, cuBLAS and NVRTC; enums are passed as int (their C ABI), handles as void *.

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

// CUresult values used here.
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_NOT_SUPPORTED 801
// CUdevice_attribute values.
#define ATTR_MULTIPROCESSOR_COUNT 16
#define ATTR_COMPUTE_CAPABILITY_MAJOR 75
#define ATTR_COMPUTE_CAPABILITY_MINOR 76
// nvrtcResult values used here.
#define NVRTC_ERROR_OUT_OF_MEMORY 1
#define NVRTC_ERROR_INVALID_INPUT 3

static struct {
	int (*cuInit)(unsigned int flags);
	int (*cuDriverGetVersion)(int *version);
	int (*cuDeviceGetCount)(int *count);
	int (*cuDeviceGet)(int *device, int ordinal);
	int (*cuDeviceGetName)(char *name, int len, int dev);
	int (*cuDeviceGetAttribute)(int *pi, int attrib, int dev);
	int (*cuDeviceTotalMem_v2)(size_t *bytes, int dev);
	int (*cuDevicePrimaryCtxRetain)(void **pctx, int dev);
	int (*cuDevicePrimaryCtxRelease_v2)(int dev);
	int (*cuCtxGetCurrent)(void **pctx);
	int (*cuCtxSetCurrent)(void *ctx);
	int (*cuStreamCreate)(void **stream, unsigned int flags);
	int (*cuStreamDestroy_v2)(void *stream);
	int (*cuStreamSynchronize)(void *stream);
	int (*cuMemGetInfo_v2)(size_t *freeMem, size_t *totalMem);
	int (*cuMemAlloc_v2)(mt_ptr *dptr, size_t bytes);
	int (*cuMemFree_v2)(mt_ptr dptr);
	int (*cuMemAllocHost_v2)(void **pp, size_t bytes);
	int (*cuMemFreeHost)(void *p);
	int (*cuMemcpyHtoD_v2)(mt_ptr dst, const void *src, size_t bytes);
	int (*cuMemcpyDtoHAsync_v2)(void *dst, mt_ptr src, size_t bytes, void *stream);
	int (*cuMemcpyDtoDAsync_v2)(mt_ptr dst, mt_ptr src, size_t bytes, void *stream);
	int (*cuMemsetD8Async)(mt_ptr dst, unsigned char value, size_t n, void *stream);
	int (*cuModuleLoadData)(void **module, const void *image);
	int (*cuModuleUnload)(void *module);
	int (*cuModuleGetFunction)(void **fn, void *module, const char *name);
	int (*cuLaunchKernel)(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
	                      unsigned bz, unsigned shared, void *stream, void **params, void **extra);
	int (*cuGetErrorName)(int status, const char **name); // optional
	// Graphs, optional (CUDA 11.4 on). The kernel node parameters are passed as the _v2 struct
	// of CUDA 12, whose first fields are the struct the older entry points read.
	int (*cuGraphCreate)(void **graph, unsigned flags);
	int (*cuGraphAddKernelNode_v2)(void **node, void *graph, void *const *deps, size_t ndeps, const void *params);
	int (*cuGraphAddKernelNode)(void **node, void *graph, void *const *deps, size_t ndeps, const void *params);
	int (*cuGraphInstantiateWithFlags)(void **exec, void *graph, unsigned long long flags);
	int (*cuGraphExecKernelNodeSetParams_v2)(void *exec, void *node, const void *params);
	int (*cuGraphExecKernelNodeSetParams)(void *exec, void *node, const void *params);
	int (*cuGraphLaunch)(void *exec, void *stream);
	int (*cuGraphExecDestroy)(void *exec);
	int (*cuGraphDestroy)(void *graph);
} cu;

static struct {
	int (*cublasCreate_v2)(void **handle);
	int (*cublasDestroy_v2)(void *handle);
	int (*cublasSetStream_v2)(void *handle, void *stream);
	int (*cublasGetVersion_v2)(void *handle, int *version); // optional
	int (*cublasGemmEx)(void *handle, int transa, int transb, int m, int n, int k, const void *alpha,
	                    const void *a, int atype, int lda, const void *b, int btype, int ldb,
	                    const void *beta, void *c, int ctype, int ldc, int compute, int algo);
	const char *(*cublasGetStatusName)(int status); // optional (cuBLAS 11.4.2 on)
} blas;

static struct {
	const char *(*nvrtcGetErrorString)(int result);
	int (*nvrtcVersion)(int *major, int *minor);
	int (*nvrtcCreateProgram)(void **prog, const char *src, const char *name, int numHeaders,
	                          const char *const *headers, const char *const *includeNames);
	int (*nvrtcDestroyProgram)(void **prog);
	int (*nvrtcCompileProgram)(void *prog, int numOptions, const char *const *options);
	int (*nvrtcGetProgramLogSize)(void *prog, size_t *size);
	int (*nvrtcGetProgramLog)(void *prog, char *log);
	int (*nvrtcGetPTXSize)(void *prog, size_t *size);
	int (*nvrtcGetPTX)(void *prog, char *ptx);
	int (*nvrtcGetCUBINSize)(void *prog, size_t *size);   // optional (11.1 on)
	int (*nvrtcGetCUBIN)(void *prog, char *cubin);        // optional
	int (*nvrtcGetNumSupportedArchs)(int *n);             // optional (11.2 on)
	int (*nvrtcGetSupportedArchs)(int *archs);            // optional
} rtc;

struct binding {
	const char *name;
	void **slot;
	int required;
};

#define BIND(table, fn, req) {#fn, (void **)&table.fn, req}

static const char *bind(void *lib, const struct binding *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		*b[i].slot = dlsym(lib, b[i].name);
	}
	for (size_t i = 0; i < n; i++) {
		if (*b[i].slot == NULL && b[i].required) {
			return b[i].name;
		}
	}
	return NULL;
}

void *mt_dlopen(const char *path, char *err, size_t errlen)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL && errlen > 0) {
		const char *e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "unknown dlopen error");
	}
	return h;
}

const char *mt_bind_driver(void *lib)
{
	const struct binding b[] = {
		BIND(cu, cuInit, 1),
		BIND(cu, cuDriverGetVersion, 1),
		BIND(cu, cuDeviceGetCount, 1),
		BIND(cu, cuDeviceGet, 1),
		BIND(cu, cuDeviceGetName, 1),
		BIND(cu, cuDeviceGetAttribute, 1),
		BIND(cu, cuDeviceTotalMem_v2, 1),
		BIND(cu, cuDevicePrimaryCtxRetain, 1),
		BIND(cu, cuDevicePrimaryCtxRelease_v2, 1),
		BIND(cu, cuCtxGetCurrent, 1),
		BIND(cu, cuCtxSetCurrent, 1),
		BIND(cu, cuStreamCreate, 1),
		BIND(cu, cuStreamDestroy_v2, 1),
		BIND(cu, cuStreamSynchronize, 1),
		BIND(cu, cuMemGetInfo_v2, 1),
		BIND(cu, cuMemAlloc_v2, 1),
		BIND(cu, cuMemFree_v2, 1),
		BIND(cu, cuMemAllocHost_v2, 1),
		BIND(cu, cuMemFreeHost, 1),
		BIND(cu, cuMemcpyHtoD_v2, 1),
		BIND(cu, cuMemcpyDtoHAsync_v2, 1),
		BIND(cu, cuMemcpyDtoDAsync_v2, 1),
		BIND(cu, cuMemsetD8Async, 1),
		BIND(cu, cuModuleLoadData, 1),
		BIND(cu, cuModuleUnload, 1),
		BIND(cu, cuModuleGetFunction, 1),
		BIND(cu, cuLaunchKernel, 1),
		BIND(cu, cuGetErrorName, 0),
		BIND(cu, cuGraphCreate, 0),
		BIND(cu, cuGraphAddKernelNode_v2, 0),
		BIND(cu, cuGraphAddKernelNode, 0),
		BIND(cu, cuGraphInstantiateWithFlags, 0),
		BIND(cu, cuGraphExecKernelNodeSetParams_v2, 0),
		BIND(cu, cuGraphExecKernelNodeSetParams, 0),
		BIND(cu, cuGraphLaunch, 0),
		BIND(cu, cuGraphExecDestroy, 0),
		BIND(cu, cuGraphDestroy, 0),
	};
	return bind(lib, b, sizeof b / sizeof b[0]);
}

const char *mt_bind_blas(void *lib)
{
	const struct binding b[] = {
		BIND(blas, cublasCreate_v2, 1),
		BIND(blas, cublasDestroy_v2, 1),
		BIND(blas, cublasSetStream_v2, 1),
		BIND(blas, cublasGetVersion_v2, 0),
		BIND(blas, cublasGemmEx, 1),
		BIND(blas, cublasGetStatusName, 0),
	};
	return bind(lib, b, sizeof b / sizeof b[0]);
}

const char *mt_bind_nvrtc(void *lib)
{
	const struct binding b[] = {
		BIND(rtc, nvrtcGetErrorString, 1),
		BIND(rtc, nvrtcVersion, 1),
		BIND(rtc, nvrtcCreateProgram, 1),
		BIND(rtc, nvrtcDestroyProgram, 1),
		BIND(rtc, nvrtcCompileProgram, 1),
		BIND(rtc, nvrtcGetProgramLogSize, 1),
		BIND(rtc, nvrtcGetProgramLog, 1),
		BIND(rtc, nvrtcGetPTXSize, 1),
		BIND(rtc, nvrtcGetPTX, 1),
		BIND(rtc, nvrtcGetCUBINSize, 0),
		BIND(rtc, nvrtcGetCUBIN, 0),
		BIND(rtc, nvrtcGetNumSupportedArchs, 0),
		BIND(rtc, nvrtcGetSupportedArchs, 0),
	};
	return bind(lib, b, sizeof b / sizeof b[0]);
}

// cuBLAS status names, for libraries without cublasGetStatusName.
static const char *blas_status_name(int s)
{
	switch (s) {
	case 0: return "CUBLAS_STATUS_SUCCESS";
	case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
	case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
	case 7: return "CUBLAS_STATUS_INVALID_VALUE";
	case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
	case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
	case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
	case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
	case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
	case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
	}
	return NULL;
}

int mt_status_name(int s, char *buf, int len)
{
	const char *name = NULL;
	if (s >= MT_NVRTC_BASE) {
		if (rtc.nvrtcGetErrorString) {
			name = rtc.nvrtcGetErrorString(s - MT_NVRTC_BASE);
		}
		if (name == NULL) {
			return snprintf(buf, len, "NVRTC error %d", s - MT_NVRTC_BASE);
		}
	} else if (s >= MT_BLAS_BASE) {
		if (blas.cublasGetStatusName) {
			name = blas.cublasGetStatusName(s - MT_BLAS_BASE);
		}
		if (name == NULL) {
			name = blas_status_name(s - MT_BLAS_BASE);
		}
		if (name == NULL) {
			return snprintf(buf, len, "cuBLAS status %d", s - MT_BLAS_BASE);
		}
	} else {
		if (cu.cuGetErrorName == NULL || cu.cuGetErrorName(s, &name) != 0 || name == NULL) {
			return snprintf(buf, len, "CUDA error %d", s);
		}
		return snprintf(buf, len, "%s (%d)", name, s);
	}
	return snprintf(buf, len, "%s", name);
}

// enter makes d's context current on this thread.
static int enter(mt_dev *d)
{
	void *cur = NULL;
	int r = cu.cuCtxGetCurrent(&cur);
	if (r != 0) {
		return r;
	}
	if (cur == d->ctx) {
		return 0;
	}
	return cu.cuCtxSetCurrent(d->ctx);
}

int mt_driver_version(int *version)
{
	return cu.cuDriverGetVersion(version);
}

int mt_device_count(int *count)
{
	*count = 0;
	int r = cu.cuInit(0);
	if (r != 0) {
		return r;
	}
	return cu.cuDeviceGetCount(count);
}

int mt_device_info(int ordinal, char *name, int namelen, int *ccMajor, int *ccMinor, int *sms,
                   size_t *totalMem)
{
	int dev = 0, r;
	if ((r = cu.cuInit(0)) != 0) return r;
	if ((r = cu.cuDeviceGet(&dev, ordinal)) != 0) return r;
	if ((r = cu.cuDeviceGetName(name, namelen, dev)) != 0) return r;
	if ((r = cu.cuDeviceGetAttribute(ccMajor, ATTR_COMPUTE_CAPABILITY_MAJOR, dev)) != 0) return r;
	if ((r = cu.cuDeviceGetAttribute(ccMinor, ATTR_COMPUTE_CAPABILITY_MINOR, dev)) != 0) return r;
	if ((r = cu.cuDeviceGetAttribute(sms, ATTR_MULTIPROCESSOR_COUNT, dev)) != 0) return r;
	return cu.cuDeviceTotalMem_v2(totalMem, dev);
}

int mt_open(int ordinal, mt_dev **out)
{
	*out = NULL;
	int r, dev = 0;
	if ((r = cu.cuInit(0)) != 0) return r;
	if ((r = cu.cuDeviceGet(&dev, ordinal)) != 0) return r;
	mt_dev *d = calloc(1, sizeof *d);
	if (d == NULL) return CUDA_ERROR_OUT_OF_MEMORY;
	d->device = dev;
	if ((r = cu.cuDevicePrimaryCtxRetain(&d->ctx, dev)) != 0) {
		free(d);
		return r;
	}
	if ((r = cu.cuCtxSetCurrent(d->ctx)) != 0) goto fail;
	if ((r = cu.cuStreamCreate(&d->stream, 0)) != 0) goto fail;
	if ((r = blas.cublasCreate_v2(&d->blas)) != 0) {
		d->blas = NULL;
		r += MT_BLAS_BASE;
		goto fail;
	}
	if ((r = blas.cublasSetStream_v2(d->blas, d->stream)) != 0) {
		r += MT_BLAS_BASE;
		goto fail;
	}
	*out = d;
	return 0;
fail:
	mt_close(d);
	return r;
}

void mt_close(mt_dev *d)
{
	if (d == NULL) return;
	if (d->ctx != NULL && enter(d) == 0) {
		if (d->stream != NULL) cu.cuStreamSynchronize(d->stream);
		if (d->blas != NULL) blas.cublasDestroy_v2(d->blas);
		if (d->stream != NULL) cu.cuStreamDestroy_v2(d->stream);
	}
	if (d->ctx != NULL) cu.cuDevicePrimaryCtxRelease_v2(d->device);
	free(d);
}

int mt_mem_info(mt_dev *d, size_t *freeMem, size_t *totalMem)
{
	int r = enter(d);
	return r ? r : cu.cuMemGetInfo_v2(freeMem, totalMem);
}

int mt_alloc(mt_dev *d, mt_ptr *p, size_t bytes)
{
	*p = 0;
	int r = enter(d);
	return r ? r : cu.cuMemAlloc_v2(p, bytes);
}

int mt_free(mt_dev *d, mt_ptr p)
{
	int r = enter(d);
	return r ? r : cu.cuMemFree_v2(p);
}

int mt_alloc_host(mt_dev *d, void **p, size_t bytes)
{
	*p = NULL;
	int r = enter(d);
	return r ? r : cu.cuMemAllocHost_v2(p, bytes);
}

int mt_free_host(mt_dev *d, void *p)
{
	int r = enter(d);
	return r ? r : cu.cuMemFreeHost(p);
}

// The copy runs on the legacy default stream, which waits for the backend's (blocking) stream
// and is waited for by it: ordered with everything queued, and the host may reuse src at once.
int mt_htod(mt_dev *d, mt_ptr dst, const void *src, size_t bytes)
{
	int r = enter(d);
	return r ? r : cu.cuMemcpyHtoD_v2(dst, src, bytes);
}

int mt_dtoh(mt_dev *d, void *dst, mt_ptr src, size_t bytes)
{
	int r = enter(d);
	if (r == 0) r = cu.cuMemcpyDtoHAsync_v2(dst, src, bytes, d->stream);
	if (r == 0) r = cu.cuStreamSynchronize(d->stream);
	return r;
}

int mt_dtod(mt_dev *d, mt_ptr dst, mt_ptr src, size_t bytes)
{
	int r = enter(d);
	return r ? r : cu.cuMemcpyDtoDAsync_v2(dst, src, bytes, d->stream);
}

int mt_zero(mt_dev *d, mt_ptr p, size_t bytes)
{
	int r = enter(d);
	return r ? r : cu.cuMemsetD8Async(p, 0, bytes, d->stream);
}

int mt_sync(mt_dev *d)
{
	int r = enter(d);
	return r ? r : cu.cuStreamSynchronize(d->stream);
}

int mt_module_load(mt_dev *d, const void *image, void **module)
{
	*module = NULL;
	int r = enter(d);
	return r ? r : cu.cuModuleLoadData(module, image);
}

int mt_module_unload(mt_dev *d, void *module)
{
	int r = enter(d);
	return r ? r : cu.cuModuleUnload(module);
}

int mt_module_function(mt_dev *d, void *module, const char *name, void **fn)
{
	*fn = NULL;
	int r = enter(d);
	return r ? r : cu.cuModuleGetFunction(fn, module, name);
}

int mt_launch_nodes(mt_dev *d, const mt_node *nodes, int n, const char *arena, int *failed)
{
	*failed = -1;
	int r = enter(d);
	if (r != 0) return r;
	for (int i = 0; i < n; i++) {
		const mt_node *nd = &nodes[i];
		void *params[MT_MAX_ARGS];
		if (nd->nargs < 0 || nd->nargs > MT_MAX_ARGS) r = CUDA_ERROR_INVALID_VALUE;
		for (int j = 0; r == 0 && j < nd->nargs; j++) {
			params[j] = (void *)(arena + nd->offs[j]);
		}
		if (r == 0) {
			r = cu.cuLaunchKernel(nd->fn, nd->gx, nd->gy, 1, nd->bx, 1, 1, 0, d->stream, params, NULL);
		}
		if (r != 0) {
			*failed = i;
			return r;
		}
	}
	return 0;
}

// CUDA_KERNEL_NODE_PARAMS_v2 (CUDA 12); the older entry points read its first fields.
typedef struct {
	void *func;
	unsigned gridDimX, gridDimY, gridDimZ;
	unsigned blockDimX, blockDimY, blockDimZ;
	unsigned sharedMemBytes;
	void **kernelParams;
	void **extra;
	void *kern;
	void *ctx;
} kernel_node_params;

int mt_graph_has(void)
{
	return cu.cuGraphCreate && (cu.cuGraphAddKernelNode_v2 || cu.cuGraphAddKernelNode) &&
	       cu.cuGraphInstantiateWithFlags &&
	       (cu.cuGraphExecKernelNodeSetParams_v2 || cu.cuGraphExecKernelNodeSetParams) &&
	       cu.cuGraphLaunch && cu.cuGraphExecDestroy && cu.cuGraphDestroy;
}

// node_params fills p for nd; params holds the parameter pointers (the driver copies the
// values they point at).
static int node_params(kernel_node_params *p, void **params, const mt_node *nd, const char *arena)
{
	if (nd->nargs < 0 || nd->nargs > MT_MAX_ARGS) return CUDA_ERROR_INVALID_VALUE;
	for (int j = 0; j < nd->nargs; j++) {
		params[j] = (void *)(arena + nd->offs[j]);
	}
	memset(p, 0, sizeof *p);
	p->func = nd->fn;
	p->gridDimX = nd->gx;
	p->gridDimY = nd->gy;
	p->gridDimZ = 1;
	p->blockDimX = nd->bx;
	p->blockDimY = p->blockDimZ = 1;
	p->kernelParams = params;
	return 0;
}

int mt_graph_build(mt_dev *d, const mt_node *nodes, int n, const char *arena, void **graph,
                   void **exec, void **handles)
{
	*graph = *exec = NULL;
	if (!mt_graph_has()) return CUDA_ERROR_NOT_SUPPORTED;
	int r = enter(d);
	if (r == 0) r = cu.cuGraphCreate(graph, 0);
	for (int i = 0; r == 0 && i < n; i++) {
		kernel_node_params p;
		void *params[MT_MAX_ARGS];
		void *dep = i > 0 ? handles[i - 1] : NULL;
		r = node_params(&p, params, &nodes[i], arena);
		if (r == 0) {
			r = cu.cuGraphAddKernelNode_v2 ? cu.cuGraphAddKernelNode_v2(&handles[i], *graph, &dep, i > 0, &p)
			                               : cu.cuGraphAddKernelNode(&handles[i], *graph, &dep, i > 0, &p);
		}
	}
	if (r == 0) r = cu.cuGraphInstantiateWithFlags(exec, *graph, 0);
	if (r != 0) {
		mt_graph_free(d, *graph, *exec);
		*graph = *exec = NULL;
	}
	return r;
}

int mt_graph_set(mt_dev *d, void *exec, void *handle, const mt_node *node, const char *arena)
{
	kernel_node_params p;
	void *params[MT_MAX_ARGS];
	int r = enter(d);
	if (r == 0) r = node_params(&p, params, node, arena);
	if (r != 0) return r;
	return cu.cuGraphExecKernelNodeSetParams_v2 ? cu.cuGraphExecKernelNodeSetParams_v2(exec, handle, &p)
	                                             : cu.cuGraphExecKernelNodeSetParams(exec, handle, &p);
}

int mt_graph_launch(mt_dev *d, void *exec)
{
	int r = enter(d);
	return r ? r : cu.cuGraphLaunch(exec, d->stream);
}

void mt_graph_free(mt_dev *d, void *graph, void *exec)
{
	if (enter(d) != 0) return;
	if (exec != NULL) cu.cuGraphExecDestroy(exec);
	if (graph != NULL) cu.cuGraphDestroy(graph);
}

int mt_gemm(mt_dev *d, int transa, int transb, int m, int n, int k, float alpha, mt_ptr a,
            int atype, int lda, mt_ptr b, int btype, int ldb, float beta, mt_ptr c, int ctype,
            int ldc, int compute)
{
	const int algoDefault = -1; // CUBLAS_GEMM_DEFAULT
	int r = enter(d);
	if (r != 0) return r;
	r = blas.cublasGemmEx(d->blas, transa, transb, m, n, k, &alpha, (const void *)(uintptr_t)a, atype,
	                      lda, (const void *)(uintptr_t)b, btype, ldb, &beta, (void *)(uintptr_t)c, ctype,
	                      ldc, compute, algoDefault);
	return r ? r + MT_BLAS_BASE : 0;
}

int mt_blas_version(mt_dev *d, int *version)
{
	*version = 0;
	int r = enter(d);
	if (r != 0) return r;
	if (blas.cublasGetVersion_v2 == NULL) return 0;
	r = blas.cublasGetVersion_v2(d->blas, version);
	return r ? r + MT_BLAS_BASE : 0;
}

int mt_nvrtc_version(int *major, int *minor)
{
	int r = rtc.nvrtcVersion(major, minor);
	return r ? r + MT_NVRTC_BASE : 0;
}

int mt_nvrtc_has_cubin(void)
{
	return rtc.nvrtcGetCUBINSize != NULL && rtc.nvrtcGetCUBIN != NULL;
}

int mt_nvrtc_archs(int *archs, int max, int *n)
{
	*n = 0;
	if (rtc.nvrtcGetNumSupportedArchs == NULL || rtc.nvrtcGetSupportedArchs == NULL) return 0;
	int count = 0;
	int r = rtc.nvrtcGetNumSupportedArchs(&count);
	if (r != 0) return r + MT_NVRTC_BASE;
	if (count <= 0) return 0;
	int *all = calloc((size_t)count, sizeof *all);
	if (all == NULL) return NVRTC_ERROR_OUT_OF_MEMORY + MT_NVRTC_BASE;
	r = rtc.nvrtcGetSupportedArchs(all);
	if (r == 0) {
		*n = count < max ? count : max;
		memcpy(archs, all, (size_t)*n * sizeof *all);
	}
	free(all);
	return r ? r + MT_NVRTC_BASE : 0;
}

int mt_nvrtc_compile(const char *src, const char *name, const char **options, int nopts,
                     int cubin, char **image, size_t *imageLen, char **log)
{
	*image = NULL;
	*imageLen = 0;
	*log = NULL;
	if (cubin && !mt_nvrtc_has_cubin()) return NVRTC_ERROR_INVALID_INPUT + MT_NVRTC_BASE;
	void *prog = NULL;
	int r = rtc.nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL);
	if (r != 0) return r + MT_NVRTC_BASE;
	int cr = rtc.nvrtcCompileProgram(prog, nopts, (const char *const *)options);
	size_t logSize = 0;
	if (rtc.nvrtcGetProgramLogSize(prog, &logSize) == 0 && logSize > 1) {
		*log = malloc(logSize);
		if (*log != NULL && rtc.nvrtcGetProgramLog(prog, *log) != 0) {
			free(*log);
			*log = NULL;
		}
	}
	if (cr != 0) {
		rtc.nvrtcDestroyProgram(&prog);
		return cr + MT_NVRTC_BASE;
	}
	size_t size = 0;
	r = cubin ? rtc.nvrtcGetCUBINSize(prog, &size) : rtc.nvrtcGetPTXSize(prog, &size);
	if (r == 0) {
		*image = malloc(size > 0 ? size : 1);
		if (*image == NULL) {
			r = NVRTC_ERROR_OUT_OF_MEMORY;
		} else {
			r = cubin ? rtc.nvrtcGetCUBIN(prog, *image) : rtc.nvrtcGetPTX(prog, *image);
		}
		if (r != 0) {
			free(*image);
			*image = NULL;
		} else {
			*imageLen = size;
		}
	}
	rtc.nvrtcDestroyProgram(&prog);
	return r ? r + MT_NVRTC_BASE : 0;
}
