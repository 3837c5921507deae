// The C side of the CUDA backend: the few CUDA driver, cuBLAS and NVRTC entry points the
// backend uses, declared here from NVIDIA's public documentation (no CUDA header is needed to
// build), found with dlopen/dlsym at run time, and thin wrappers that make the device's
// context current on the calling thread before every call (Go moves goroutines between
// threads).
//
// Every wrapper returns 0 on success or a status: a CUresult as is, a cuBLAS status plus
// MT_BLAS_BASE, an NVRTC result plus MT_NVRTC_BASE.

#ifndef MINITRON_CUDA_SHIM_H
#define MINITRON_CUDA_SHIM_H

#include <stddef.h>

#define MT_BLAS_BASE 100000
#define MT_NVRTC_BASE 200000
#define MT_MAX_ARGS 16

typedef unsigned long long mt_ptr; // CUdeviceptr (64-bit since the _v2 API)

typedef struct mt_dev {
	void *ctx;    // CUcontext: the device's primary context
	void *stream; // CUstream: every operation is queued on it
	void *blas;   // cublasHandle_t, bound to stream
	int device;   // CUdevice
} mt_dev;

// Loading. mt_dlopen returns a handle, or NULL with the loader's message in err.
void *mt_dlopen(const char *path, char *err, size_t errlen);
// mt_bind_* look up the entry points in a loaded library; they return NULL or the name of the
// first required symbol that is missing.
const char *mt_bind_driver(void *lib);
const char *mt_bind_blas(void *lib);
const char *mt_bind_nvrtc(void *lib);

// mt_status_name writes the name of a status into buf, for messages.
int mt_status_name(int status, char *buf, int len);

// Driver.
int mt_driver_version(int *version);
int mt_device_count(int *count);
int mt_device_info(int ordinal, char *name, int namelen, int *ccMajor, int *ccMinor, int *sms,
                   size_t *totalMem);
int mt_open(int ordinal, mt_dev **out);
void mt_close(mt_dev *d);
int mt_mem_info(mt_dev *d, size_t *freeMem, size_t *totalMem);
int mt_alloc(mt_dev *d, mt_ptr *p, size_t bytes);
int mt_free(mt_dev *d, mt_ptr p);
int mt_alloc_host(mt_dev *d, void **p, size_t bytes);
int mt_free_host(mt_dev *d, void *p);
int mt_htod(mt_dev *d, mt_ptr dst, const void *src, size_t bytes);
int mt_dtoh(mt_dev *d, void *dst, mt_ptr src, size_t bytes);
int mt_dtod(mt_dev *d, mt_ptr dst, mt_ptr src, size_t bytes);
int mt_zero(mt_dev *d, mt_ptr p, size_t bytes);
int mt_sync(mt_dev *d);
int mt_module_load(mt_dev *d, const void *image, void **module);
int mt_module_unload(mt_dev *d, void *module);
int mt_module_function(mt_dev *d, void *module, const char *name, void **fn);
// A kernel launch: fn on gx×gy blocks of bx threads, parameter i at arena+offs[i].
typedef struct mt_node {
	void *fn;
	unsigned gx, gy, bx;
	int nargs;
	int offs[MT_MAX_ARGS];
} mt_node;

// mt_launch_nodes queues n launches in order; on a failure *failed is the launch's index.
int mt_launch_nodes(mt_dev *d, const mt_node *nodes, int n, const char *arena, int *failed);

// CUDA graphs: n launches as a chain of kernel nodes, instantiated (mt_graph_build, with a
// node handle per launch in handles), a launch's parameters changed in the instantiated
// graph (mt_graph_set), and the graph queued (mt_graph_launch). mt_graph_has reports whether
// the driver has the entry points.
int mt_graph_has(void);
int mt_graph_build(mt_dev *d, const mt_node *nodes, int n, const char *arena, void **graph,
                   void **exec, void **handles);
int mt_graph_set(mt_dev *d, void *exec, void *handle, const mt_node *node, const char *arena);
int mt_graph_launch(mt_dev *d, void *exec);
void mt_graph_free(mt_dev *d, void *graph, void *exec);

// cuBLAS: column-major C = alpha·op(A)·op(B) + beta·C with the types and compute type given.
int mt_gemm(mt_dev *d, int transa, int transb, int m, int n, int k, float alpha, mt_ptr a,
            int atype, int lda, mt_ptr b, int btype, int ldb, float beta, mt_ptr c, int ctype,
            int ldc, int compute);
int mt_blas_version(mt_dev *d, int *version);

// NVRTC. mt_nvrtc_compile compiles src; on success *image (malloc'd, *imageLen bytes) is a
// CUBIN when cubin is set and NUL-terminated PTX otherwise. The log (malloc'd, or NULL) is
// returned in both cases. The caller frees both.
int mt_nvrtc_version(int *major, int *minor);
int mt_nvrtc_has_cubin(void);
int mt_nvrtc_archs(int *archs, int max, int *n);
int mt_nvrtc_compile(const char *src, const char *name, const char **options, int nopts,
                     int cubin, char **image, size_t *imageLen, char **log);

#endif
