package cuda

import _ "embed"

// kernelSource is the CUDA C++ of every kernel the backend launches, compiled by NVRTC.
//
//go:embed kernels.cu
var kernelSource []byte

// kernel identifies a function of kernelSource.
type kernel int

const (
	kRoundBF16 kernel = iota
	kCopyF32
	kSplitBF16
	kSplit3BF16
	kWidenBF16
	kWidenF16
	kLayerNorm
	kRotaryKV
	kRotaryKVBF16 // rotary_kv into a BF16 KV cache
	kReLU2
	kAdd
	kEmbedF32
	kEmbedF16
	kEmbedBF16
	kAttention
	kAttentionCombine
	kAttentionTiled
	kAttentionBF16      // attention over a BF16 KV cache
	kAttentionTiledBF16 // attention_tiled over a BF16 KV cache
	kArgmax
	kGemvF32   // kGemvF32 + 4·dtype + log2(rows): gemv_{f32,f16,bf16}_{1,2,4,8}
	numKernels = kGemvF32 + 12
)

// kernelNames are the extern "C" names in kernels.cu, by kernel.
var kernelNames = [numKernels]string{
	kRoundBF16:          "round_bf16",
	kCopyF32:            "copy_f32",
	kSplitBF16:          "split_bf16",
	kSplit3BF16:         "split3_bf16",
	kWidenBF16:          "widen_bf16",
	kWidenF16:           "widen_f16",
	kLayerNorm:          "layernorm1p",
	kRotaryKV:           "rotary_kv",
	kRotaryKVBF16:       "rotary_kv_bf16",
	kReLU2:              "relu2",
	kAdd:                "add",
	kEmbedF32:           "embed_f32",
	kEmbedF16:           "embed_f16",
	kEmbedBF16:          "embed_bf16",
	kAttention:          "attention",
	kAttentionCombine:   "attention_combine",
	kAttentionTiled:     "attention_tiled",
	kAttentionBF16:      "attention_bf16",
	kAttentionTiledBF16: "attention_tiled_bf16",
	kArgmax:             "argmax",
	kGemvF32 + 0:        "gemv_f32_1",
	kGemvF32 + 1:        "gemv_f32_2",
	kGemvF32 + 2:        "gemv_f32_4",
	kGemvF32 + 3:        "gemv_f32_8",
	kGemvF32 + 4:        "gemv_f16_1",
	kGemvF32 + 5:        "gemv_f16_2",
	kGemvF32 + 6:        "gemv_f16_4",
	kGemvF32 + 7:        "gemv_f16_8",
	kGemvF32 + 8:        "gemv_bf16_1",
	kGemvF32 + 9:        "gemv_bf16_2",
	kGemvF32 + 10:       "gemv_bf16_4",
	kGemvF32 + 11:       "gemv_bf16_8",
}

// FastRoundingEnv set to "single" makes fast precision round the activations of prefill GEMMs
// to bf16 once, instead of splitting them into two bf16 terms: faster, less accurate (for
// measuring the trade; see Backend.singleRounding).
const FastRoundingEnv = "MINITRON_CUDA_FAST_ROUNDING"

// ExactGEMMEnv set to "f32" makes exact precision widen bf16 weights to float32 for an SGEMM
// (no TF32) instead of splitting the activations into three bf16 terms for three tensor-core
// GEMMs: the arithmetic of the float32 reference, for measuring one against the other.
const ExactGEMMEnv = "MINITRON_CUDA_EXACT_GEMM"

// Launch shapes shared with kernels.cu; a test checks that the #defines there agree.
const (
	gemvWarps     = 8    // GEMV_WARPS: rows of w per block of gemv
	gemvMaxRows   = 8    // rows of x one gemv launch handles (its largest N)
	embedIDs      = 256  // EMBED_IDS: token ids one embed launch carries in its parameters
	attThreads    = 256  // ATT_THREADS
	attMaxHeadDim = 256  // ATT_MAXD
	attGroup      = 8    // ATT_G: query heads sharing a KV head that one attention block computes
	atQueryVecs   = 32   // AT_QV: query vectors (rows × heads sharing a KV head) per attention_tiled block
	atMaxHeadDim  = 128  // AT_D
	blockThreads  = 256  // element-wise and layernorm kernels
	argmaxThreads = 1024 // ARGMAX_THREADS: the one block of argmax (a power of two)
)

// nvrtcOptions are the options every compilation gets besides the architecture: NVRTC's
// default C++ dialect (the source is plain C++11) and no fast math, so that expf, sqrtf and
// sincos keep their accuracy, which exact precision relies on.
var nvrtcOptions = []string{"--fmad=true"}

// Attention splits the keys of each query row among several blocks when the rows and KV
// heads alone would leave the device short of work (decoding: one row, 8 KV heads, so 8
// blocks), each split covering at least attnMinKeys keys; attention_combine then merges the
// splits. The kernel streams keys and values from memory, so the splits aim at
// attnBlocksPerSM blocks per multiprocessor (1024 threads of the 2048 an SM holds, with 16 KB
// of shared memory each), enough loads in flight to approach the memory bandwidth at long
// contexts; short contexts stop at attnMinKeys keys a block.
const (
	attnMinKeys     = 16
	attnMaxSplits   = 128
	attnBlocksPerSM = 4
)

// attentionBlocks is the number of attention blocks per split: one per query row, KV head and
// group of at most attGroup of the query heads that share it.
func attentionBlocks(n, heads, kvHeads int) int {
	return n * kvHeads * ceilDiv(heads/kvHeads, attGroup)
}

// attentionTiled reports whether attention_tiled computes the attention of n query rows, and
// with how many rows per block: the head dimension must suit it, and its blocks (a tile of
// rows per KV head) must fill the device (a prompt; decoding splits the keys instead).
func attentionTiled(n, heads, kvHeads, headDim, sms int) (ok bool, rowsPerBlock int) {
	group := heads / kvHeads
	if headDim > atMaxHeadDim || headDim%4 != 0 || group > atQueryVecs {
		return false, 0
	}
	rowsPerBlock = atQueryVecs / group
	return kvHeads*ceilDiv(n, rowsPerBlock) >= sms, rowsPerBlock
}

// attentionSplits returns how many splits the attention of n query rows at positions
// pos0…pos0+n-1 over heads query heads and kvHeads KV heads uses on a device of sms
// multiprocessors, and the keys each covers. The last split may be shorter; splits past a
// row's last key are empty.
func attentionSplits(n, heads, kvHeads, pos0, sms int) (splits, chunk int) {
	seen := pos0 + n
	splits = 1
	target := attnBlocksPerSM * sms
	if blocks := attentionBlocks(n, heads, kvHeads); blocks < target {
		splits = max(1, min(ceilDiv(seen, attnMinKeys), ceilDiv(target, blocks), attnMaxSplits))
	}
	chunk = ceilDiv(seen, splits)
	return ceilDiv(seen, chunk), chunk
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
