package bench

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/minitron-go/minitron/tensor"
)

// randomSigma is the RMS of fill's bf16 weights (magnitudes uniform in [2⁻⁷, 2⁻⁶) and
// [2⁻⁶, 2⁻⁵), half each: √(35/6)·2⁻⁷), which the random blocks of the block formats match.
const randomSigma = 0.0189

// fillBlocks writes random blocks of block format dt into data (whole blocks), from the
// stream (seed, block): quantized values drawn directly as bits, with f16 scales chosen so
// that the dequantized weights have about randomSigma's RMS and mean 0, as trained weights of
// this scale quantized would. Each block's scale varies by ±25 %, so that no two blocks are
// alike. Formats without a generator of their own are quantized from fill's bf16 values.
func fillBlocks(data []byte, dt tensor.DType, seed, block uint64) {
	r := randomBits{rng: rand.NewPCG(seed, block)}
	bb := dt.BlockBytes()
	switch dt {
	case tensor.Q8_0:
		// x = d·q with q = a + b − 127, a and b uniform on 0…127: triangular, RMS 52.25.
		for b := data; len(b) >= bb; b = b[bb:] {
			putF16(b, r.scale(randomSigma/52.25))
			for j := 2; j < 34; j += 4 {
				u := r.rng.Uint64()
				for k := range 4 {
					b[j+k] = byte(int8(int(u>>(16*k)&0x7f) + int(u>>(16*k+8)&0x7f) - 127))
				}
			}
		}
	case tensor.Q4_K:
		// x = d·sc·q − dmin·m with q uniform on 0…15 (RMS about the mean 4.61), sc uniform on
		// 32…63 (RMS 48.39), m = sc and dmin = 7.5·d: x = d·sc·(q − 7.5), mean 0.
		for b := data; len(b) >= bb; b = b[bb:] {
			d := r.scale(randomSigma / (4.61 * 48.39))
			putF16(b[0:], d)
			putF16(b[2:], 7.5*tensor.F16ToFloat32(binary.LittleEndian.Uint16(b[0:])))
			clear(b[4:16])
			for j := range 8 {
				sc := 32 + uint8(r.byte()&31)
				putScaleMinK4(j, b[4:16], sc, sc)
			}
			r.read(b[16:144])
		}
	case tensor.Q6_K:
		// x = d·sc·(q − 32) with q uniform on 0…63 (RMS 18.48 for q − 32), sc uniform on
		// 8…15 (RMS 11.73); the mean, −0.5·d·sc, is 3 % of the RMS.
		for b := data; len(b) >= bb; b = b[bb:] {
			r.read(b[:192])
			for j := range 16 {
				b[192+j] = 8 + r.byte()&7
			}
			putF16(b[208:], r.scale(randomSigma/(18.48*11.73)))
		}
	default:
		n := len(data) / bb * dt.BlockSize()
		raw := make([]byte, 2*n)
		fill(raw, seed, block)
		x := make([]float32, n)
		for i := range x {
			x[i] = tensor.BF16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		tensor.Quantize(data[:dt.Bytes(n)], dt, x)
	}
}

// randomBits hands out a PCG stream's bits a byte or a block's scale at a time.
type randomBits struct {
	rng  *rand.PCG
	u    uint64
	left int
}

func (r *randomBits) byte() byte {
	if r.left == 0 {
		r.u, r.left = r.rng.Uint64(), 8
	}
	b := byte(r.u)
	r.u >>= 8
	r.left--
	return b
}

// read fills b with random bytes, eight a draw.
func (r *randomBits) read(b []byte) {
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, r.rng.Uint64())
		b = b[8:]
	}
	for i := range b {
		b[i] = r.byte()
	}
}

// scale is base times a factor uniform on [0.75, 1.25).
func (r *randomBits) scale(base float32) float32 {
	return base * (0.75 + 0.5*float32(r.byte())/256)
}

func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, tensor.Float32ToF16(f)) }

// putScaleMinK4 packs the 6-bit scale sc and minimum m of sub-block j into the 12 scale bytes
// of a Q4_K block, zeroed beforehand: ggml's get_scale_min_k4 read backwards (sub-blocks 0–3
// in the low 6 bits of bytes 0–3 and 4–7; 4–7 in the nibbles of bytes 8–11, their top 2 bits
// in the top bits of bytes 0–7).
func putScaleMinK4(j int, q []byte, sc, m uint8) {
	if j < 4 {
		q[j] |= sc
		q[j+4] |= m
		return
	}
	q[j+4] = sc&0xF | (m&0xF)<<4
	q[j-4] |= (sc >> 4) << 6
	q[j] |= (m >> 4) << 6
}
