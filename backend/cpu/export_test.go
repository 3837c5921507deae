package cpu

// What the conformance test's model of the matrix product needs (cpu_test.go).
const (
	GemmMinRows = gemmMinRows
	KBlock      = kBlock
)

// PackedKBlock is the packed GEMM's k-block for a CPU's L2 (packed.go).
var PackedKBlock = packedKBlock

// SetBF16Gemm makes fast prefill take the bf16 GEMM or the float32 one whichever this CPU's
// probe chose, so that the tests run both.
func SetBF16Gemm(b *Backend, v bool) { b.bf16Gemm = v }

// BF16Gemm reports which one b takes.
func BF16Gemm(b *Backend) bool { return b.bf16Gemm }
