// Package cuda is the GPU backend: NVIDIA's driver, cuBLAS and NVRTC are loaded at run time
// (dlopen), so that building needs neither CUDA headers nor CUDA libraries, and a machine
// without them still runs the engine on the CPU. It registers itself as "cuda".
//
// Weights are uploaded once and stay in their dtype (bf16 for Minitron); activations are
// float32 on the device, the KV cache float32 or bf16 (backend.KVCacheTypes: rows rounded to
// nearest even as they enter, widened exactly as attention reads them); every operation is
// queued on one stream, and only Read and Sync wait for it. Kernel launches wait on the host
// until something needs their work, and a sequence of them that repeats, a decode step, is
// replayed as a CUDA graph with the parameters that changed updated (graph.go). Matrix
// products with few rows (decoding) run a kernel of our own that reads the weights once in
// their dtype with float32 activations, adding the product to the destination or squaring
// its positive part as it stores where MatMulAdd or MatMulReLU2 ask, so decoding is bound by
// the weights' bandwidth in either precision; stacked weights (Q, K and V) are one matrix in
// device memory, one launch. Larger products (prefill) use cuBLAS: in fast
// precision on tensor cores, the activations split into two bf16 terms (hi = bf16(x),
// lo = bf16(x − hi)) and multiplied by the bf16 weights in two GEMMs accumulating in float32,
// which keeps the golden models' logits within 1e-4 of float64 where rounding the activations
// once (MINITRON_CUDA_FAST_ROUNDING=single, half the arithmetic) drifts by up to 0.08; in exact
// precision the activations split into three bf16 terms (hi, mid = bf16(x − hi), lo), whose
// sum is x exactly, multiplied by the bf16 weights in three tensor-core GEMMs accumulating in
// float32, the smallest term first (as the CPU's AMX path does); f16 weights, a device before
// compute capability 8.0, or MINITRON_CUDA_EXACT_GEMM=f32 widen the weights to float32 block
// by block and multiply in float32 without TF32. Attention reads the KV cache directly: a
// prompt runs a block per tile of query rows and KV head, which meets each tile of keys and
// values once in shared memory for all the query heads that share it; decoding runs a block
// per KV head for its group of
// query heads, so each key and value is read once, splits each row's keys among enough blocks
// to fill the device and merges their softmax sums. Greedy decoding can take the argmax on
// the device (backend.Argmaxer, nemotron.NextToken): 4 bytes back per token instead of the
// logits. The kernels (kernels.cu) are compiled by NVRTC for the device's architecture on
// first use and cached on disk.
//
// Libraries are searched in MINITRON_CUDA_LIB_DIR when it is set (for the toolkit libraries,
// only there), else on the loader path, in CUDA toolkit directories ($CUDA_HOME,
// /usr/local/cuda*) and in NVIDIA's Python wheels. Compiled kernels are kept in
// MINITRON_CUDA_CACHE (default: the user's cache directory, minitron/cuda; "off" disables it).
package cuda
