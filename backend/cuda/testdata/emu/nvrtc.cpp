// A stand-in for NVRTC: every program "compiles" to a placeholder that the emulated driver
// ignores (it runs the kernels compiled into itself).
#include <cstdlib>
#include <cstring>

static const char image[] = "minitron emulated kernels";

extern "C" {
const char *nvrtcGetErrorString(int r) { return r ? "NVRTC_ERROR_EMULATED" : "NVRTC_SUCCESS"; }
int nvrtcVersion(int *major, int *minor) { *major = 13; *minor = 0; return 0; }
int nvrtcGetNumSupportedArchs(int *n) { *n = 1; return 0; }
int nvrtcGetSupportedArchs(int *archs) { archs[0] = 90; return 0; }
int nvrtcCreateProgram(void **prog, const char *src, const char *, int, const char *const *, const char *const *) {
	*prog = strdup(src);
	return 0;
}
int nvrtcDestroyProgram(void **prog) { free(*prog); *prog = nullptr; return 0; }
int nvrtcCompileProgram(void *, int, const char *const *) { return 0; }
int nvrtcGetProgramLogSize(void *, size_t *n) { *n = 1; return 0; }
int nvrtcGetProgramLog(void *, char *log) { log[0] = 0; return 0; }
int nvrtcGetPTXSize(void *, size_t *n) { *n = sizeof image; return 0; }
int nvrtcGetPTX(void *, char *out) { memcpy(out, image, sizeof image); return 0; }
int nvrtcGetCUBINSize(void *, size_t *n) { *n = sizeof image; return 0; }
int nvrtcGetCUBIN(void *, char *out) { memcpy(out, image, sizeof image); return 0; }
}
