package tensor

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// Level is a CPU feature level that kernels are written for.
type Level int

const (
	Generic    Level = iota // plain Go, any CPU (and the purego build)
	AVX2                    // AVX2, FMA and F16C
	AVX512                  // AVX-512 F, BW, DQ and VL
	AVX512BF16              // AVX-512 with VDPBF16PS: bf16 pair dot products
	AMX                     // Intel AMX tiles: bf16 matrix products (TDPBF16PS)
	numLevels
)

var levelNames = [numLevels]string{"generic", "avx2", "avx512", "avx512bf16", "amx"}

func (l Level) String() string {
	if l < 0 || l >= numLevels {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel maps a name ("generic", "avx2", "avx512", "avx512bf16", "amx") to a Level.
func ParseLevel(s string) (Level, error) {
	for l, n := range levelNames {
		if n == s {
			return Level(l), nil
		}
	}
	return 0, fmt.Errorf("unknown CPU level %q (want one of %s)", s, strings.Join(levelNames[:], ", "))
}

// Kernels is one implementation of every CPU kernel. The plain-Go implementation documents
// what each computes; an assembly one computes the same, up to float32 rounding order.
type Kernels struct {
	Level Level

	// Matrix-vector products for decoding, dst[r] = Σ_p w[r·k+p]·x[p] for r < len(dst),
	// k = len(x): w is bf16, f16 or f32.
	GemvBF16 func(dst []float32, w []uint16, x []float32)
	GemvF16  func(dst []float32, w []uint16, x []float32)
	GemvF32  func(dst []float32, w []float32, x []float32)
	// GemvBF16Fast is GemvBF16 with x already rounded to bf16 (xb = bf16(x)): the products of
	// bf16 pairs that VDPBF16PS computes. Nil where the CPU has no bf16 dot product.
	GemvBF16Fast func(dst []float32, w []uint16, xb []uint16)

	// Packed bf16 matrices (packed.go): GemvBF16Packed is GemvBF16 over whole groups of a
	// packed matrix, each output one multiply-add chain over k in order, the chain the GEMM
	// below runs for a row of x; GemvBF16PackedFast multiplies bf16 pairs as VDPBF16PS does
	// (nil where the CPU has no bf16 dot product). UnpackF32 widens steps of a group into
	// panels of UnpackWidth rows, each its columns in order (Kernels.UnpackedIndex), for
	// GemmF32Cols: GemmF32 over w[p·ldp + j]. GemmBF16Cols
	// is GemmBF16 over a packed group's pairs, pair (j, p/2) at w[(p/2·ldp + j)·2].
	// Both take ldg, the elements from a group's first step to the next group's (PackedRows·k
	// for a whole matrix), and acc, to carry chains on from dst over a later block of columns.
	GemvBF16Packed     func(dst []float32, w []uint16, x []float32, ldg int, acc bool)
	GemvBF16PackedFast func(dst []float32, w []uint16, xb []uint16, ldg int, acc bool)
	// GemvBF16Packed2 is GemvBF16Packed for two rows of x at once (dst0 = w·x0, dst1 = w·x1,
	// the same bits as two calls), each weight widened once for both; nil where a level has
	// none (callers then make two calls).
	GemvBF16Packed2     func(dst0, dst1 []float32, w []uint16, x0, x1 []float32, ldg int, acc bool)
	GemvBF16Packed2Fast func(dst0, dst1 []float32, w []uint16, x0, x1 []uint16, ldg int, acc bool)
	// GemvBF16Packed4 is GemvBF16Packed for four rows of x at once (dst[i] = w·x[i], the
	// same bits as four calls), the accumulators held in registers over a chunk of a group
	// read into L1. Nil where a level has none.
	GemvBF16Packed4 func(dst [4][]float32, w []uint16, x [4][]float32, ldg int, acc bool)
	// PackedGroups is the number of groups the packed matrix-vector kernels read at once
	// (0 or 1: one): a caller that splits a matrix between threads hands out multiples of it.
	PackedGroups int
	UnpackF32    func(dst []float32, src []uint16, steps int)
	UnpackWidth  int // a multiple of GemmCols that divides PackedRows
	GemmF32Cols  func(tile, xp, w []float32, ldp, k, nw int, acc bool)
	GemmBF16Cols func(tile []float32, xp []uint16, w []uint16, ldp, k, nw int, acc bool)
	// GemmF32Cols32 and GemmBF16Cols32 are GemmF32Cols and GemmBF16Cols for a panel whose
	// rows from the 32nd on are padding (a prompt's last panel): rows i < 32 of the tile the
	// same bits, the rest left as they are, for two thirds of the arithmetic where GemmRows
	// is 48. Nil where a level has none.
	GemmF32Cols32  func(tile, xp, w []float32, ldp, k, nw int, acc bool)
	GemmBF16Cols32 func(tile []float32, xp []uint16, w []uint16, ldp, k, nw int, acc bool)

	// Dequantize is the package's Dequantize (dst the values of src's blocks of dtype dt),
	// the same bits, in assembly for the formats a level has a kernel for.
	Dequantize func(dst []float32, dt DType, src []byte)

	// Matrix-vector products over block-format weights (qgemv.go): w holds len(dst) rows of
	// k/BlockSize blocks. The exact ones multiply the dequantized weights by x (k = len(x));
	// the fast ones multiply the integers by x quantized to a Q8Act (k = a.Len()).
	GemvQ8_0, GemvQ4_K, GemvQ5_K, GemvQ6_K         func(dst []float32, w []byte, x []float32)
	GemvQ8_0Q8, GemvQ4_KQ8, GemvQ5_KQ8, GemvQ6_KQ8 func(dst []float32, w []byte, a *Q8Act)
	// QuantizeQ8Act quantizes x (len(x) = a.Len()) into a.
	QuantizeQ8Act func(a *Q8Act, x []float32)

	// Register-blocked matrix products for prefill. X rows are first packed into a panel of
	// GemmRows rows; a Gemm call then multiplies the panel by nw ≤ GemmCols rows of W over
	// k columns, writing a transposed tile: tile[j·GemmRows + i] for panel row i, W row j.
	GemmRows, GemmCols int
	// PackF32 packs rows [0, rows) of x (row stride ldx) into xp[p·GemmRows + i], p < k,
	// zero-filling rows rows…GemmRows-1.
	PackF32 func(xp, x []float32, ldx, rows, k int)
	// GemmF32 computes tile[j·R+i] = Σ_{p<k} xp[p·R+i]·w[j·ldw+p] (R = GemmRows), adding to
	// the tile instead when acc is set.
	GemmF32 func(tile, xp, w []float32, ldw, k, nw int, acc bool)
	// PackBF16 packs rows like PackF32, rounded to bf16 and in pairs of columns, the operand
	// layout of VDPBF16PS: xp[(p/2)·2R + 2i + p%2] = bf16(x[i·ldx+p]); k is even.
	PackBF16 func(xp []uint16, x []float32, ldx, rows, k int)
	// GemmBF16 is GemmF32 for a PackBF16 panel and bf16 W: products of bf16 pairs summed in
	// float32; k is even. Nil where the CPU has no bf16 dot product.
	GemmBF16 func(tile []float32, xp []uint16, w []uint16, ldw, k, nw int, acc bool)

	// Transpose copies a block: dst[i·ldd + j] = src[j·lds + i] for i < rows, j < cols. It
	// turns the transposed tiles of the Gemm kernels into rows of the output.
	Transpose func(dst []float32, ldd int, src []float32, lds, rows, cols int)

	// Vector kernels.
	Dot func(x, y []float32) float32 // Σ x[i]·y[i], len(y) ≥ len(x)
	// Dots is Dot of x with rows of ys at a stride of ldy, times scale: dst[j] =
	// Dot(x, ys[j·ldy:])·scale, the same bits, for attention's scores.
	Dots func(dst, x, ys []float32, ldy int, scale float32)
	// Dots4 is Dots for four queries x[q] of one length against the same rows, dst[q] of one
	// length: the same bits as four calls of Dots, each row read once for the four. Nil where
	// a level has none (callers then call Dots).
	Dots4       func(dst, x [4][]float32, ys []float32, ldy int, scale float32)
	Axpy        func(a float32, x, y []float32)           // y[i] += a·x[i]
	Add         func(dst, x []float32)                    // dst[i] += x[i]
	ReLU2       func(x []float32)                         // x[i] = max(x[i], 0)²
	Softmax     func(x []float32)                         // x = exp(x-max)/Σ exp(x-max)
	LayerNorm1P func(dst, x, w, b []float32, eps float32) // one row; see LayerNorm1P
	RotateHalf  func(x, cos, sin []float32)               // see RotateHalf
	BF16ToF32   func(dst []float32, src []uint16)         // widen
	F16ToF32    func(dst []float32, src []uint16)         // widen
	F32ToBF16   func(dst []uint16, src []float32)         // round to nearest even
}

var generic = Kernels{
	Level:    Generic,
	GemvBF16: gemvBF16Generic,
	GemvF16:  gemvF16Generic,
	GemvF32:  gemvF32Generic,

	GemvBF16Packed: gemvPackedGeneric,
	UnpackF32:      unpackF32Generic,
	UnpackWidth:    PackedRows,
	GemmF32Cols:    gemmF32ColsGeneric(8),

	Dequantize:    Dequantize,
	GemvQ8_0:      gemvQuantGeneric(Q8_0),
	GemvQ4_K:      gemvQuantGeneric(Q4_K),
	GemvQ5_K:      gemvQuantGeneric(Q5_K),
	GemvQ6_K:      gemvQuantGeneric(Q6_K),
	GemvQ8_0Q8:    gemvQ8_0Q8Generic,
	GemvQ4_KQ8:    gemvQ4_KQ8Generic,
	GemvQ5_KQ8:    gemvQ5_KQ8Generic,
	GemvQ6_KQ8:    gemvQ6_KQ8Generic,
	QuantizeQ8Act: quantizeQ8ActGeneric,

	GemmRows:    8,
	GemmCols:    4,
	PackF32:     packF32Generic(8),
	GemmF32:     gemmF32Generic(8),
	PackBF16:    packBF16Generic(8),
	Transpose:   transposeGeneric,
	Dot:         dotGeneric,
	Dots:        dotsGeneric,
	Axpy:        axpyGeneric,
	Add:         addGeneric,
	ReLU2:       relu2Generic,
	Softmax:     softmaxGeneric,
	LayerNorm1P: layerNorm1PGeneric,
	RotateHalf:  rotateHalfGeneric,
	BF16ToF32:   bf16ToF32Generic,
	F16ToF32:    f16ToF32Generic,
	F32ToBF16:   f32ToBF16Generic,
}

// overrides are the assembly kernels each level adds, registered by init functions; a level
// starts from the kernels of the level below it.
var overrides [numLevels][]func(*Kernels)

func override(l Level, f func(*Kernels)) { overrides[l] = append(overrides[l], f) }

// supported reports whether this CPU (and build) can run a level's kernels; set per platform.
var supported = func(l Level) bool { return l == Generic }

var (
	buildOnce sync.Once
	available []*Kernels
	active    *Kernels
)

// EnvLevel names the environment variable that caps the level the engine uses, so that
// tests (and users chasing a numerical difference) can run any implementation.
const EnvLevel = "MINITRON_CPU"

func build() {
	prev := generic
	for l := Generic; l < numLevels; l++ {
		if !supported(l) {
			break
		}
		k := prev
		k.Level = l
		for _, f := range overrides[l] {
			f(&k)
		}
		available = append(available, &k)
		prev = k
	}
	active = available[len(available)-1]
	if s := os.Getenv(EnvLevel); s != "" {
		want, err := ParseLevel(s)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "%s: %v; using %s\n", EnvLevel, err, active.Level)
		case int(want) < len(available):
			active = available[want]
		default:
			fmt.Fprintf(os.Stderr, "%s=%s: this CPU supports at most %s; using that\n", EnvLevel, s, active.Level)
		}
	}
}

// Implementations returns every implementation this CPU can run, generic first.
func Implementations() []*Kernels {
	buildOnce.Do(build)
	return available
}

// Active returns the implementation the engine uses: the best this CPU runs, or the level
// named by $MINITRON_CPU.
func Active() *Kernels {
	buildOnce.Do(build)
	return active
}
