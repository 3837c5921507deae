package tensor

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

var blockDTypes = []DType{Q8_0, Q4_K, Q5_K, Q6_K}

func TestBlockDTypes(t *testing.T) {
	for _, c := range []struct {
		dt           DType
		block, bytes int
	}{{Q8_0, 32, 34}, {Q4_K, 256, 144}, {Q6_K, 256, 210}, {Q5_K, 256, 176}, {F32, 1, 4}, {BF16, 1, 2}} {
		if c.dt.BlockSize() != c.block || c.dt.BlockBytes() != c.bytes || c.dt.Bytes(3*c.block) != 3*c.bytes {
			t.Errorf("%s: block %d of %d bytes, Bytes(3 blocks) %d", c.dt, c.dt.BlockSize(), c.dt.BlockBytes(), c.dt.Bytes(3*c.block))
		}
		if c.dt.Quantized() != (c.block > 1) || (c.dt.IsFloat() && c.dt.Quantized()) {
			t.Errorf("%s: Quantized %v IsFloat %v", c.dt, c.dt.Quantized(), c.dt.IsFloat())
		}
	}
	for _, dt := range blockDTypes {
		if _, err := ParseDType(dt.String()); err == nil || !strings.Contains(err.Error(), "block format") {
			t.Errorf("ParseDType(%s): %v", dt, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s.Size() did not panic", dt)
				}
			}()
			dt.Size()
		}()
	}
}

// f16bytes appends the binary16 of f.
func f16bytes(b []byte, f float32) []byte {
	h := Float32ToF16(f)
	return append(b, byte(h), byte(h>>8))
}

// Blocks built by hand from the layouts of ggml-common.h, decoded by the dequantizers: these
// pin the bit positions independently of our quantizers.
func TestDequantizeLayouts(t *testing.T) {
	t.Run("Q8_0", func(t *testing.T) {
		b := f16bytes(nil, 0.5)
		for j := range 32 {
			b = append(b, byte(int8(j-16)))
		}
		got := make([]float32, 32)
		Dequantize(got, Q8_0, b)
		for j, v := range got {
			if v != 0.5*float32(j-16) {
				t.Fatalf("element %d: %g", j, v)
			}
		}
	})
	// Q4_K and Q5_K: d = 1, dmin = 0.25, sub-block j has scale j+1 and min 2j+60 (so that
	// the upper bits of both are used); level of element i is i mod 16 (or 32).
	kscales := func() []byte {
		q := make([]byte, 12)
		for j := range 8 {
			putScaleMinK4(j, q, uint8(j+1), uint8(2*j+48))
		}
		return q
	}
	kwant := func(i, nlev int) float32 {
		j := i / 32
		return float32(j+1)*float32(i%nlev) - 0.25*float32(2*j+48)
	}
	t.Run("Q4_K", func(t *testing.T) {
		b := f16bytes(f16bytes(nil, 1), 0.25)
		b = append(b, kscales()...)
		for g := range 4 {
			for l := range 32 {
				lo, hi := (64*g+l)%16, (64*g+l+32)%16
				b = append(b, byte(lo|hi<<4))
			}
		}
		got := make([]float32, 256)
		Dequantize(got, Q4_K, b)
		for i, v := range got {
			if v != kwant(i, 16) {
				t.Fatalf("element %d: %g, want %g", i, v, kwant(i, 16))
			}
		}
	})
	t.Run("Q5_K", func(t *testing.T) {
		b := f16bytes(f16bytes(nil, 1), 0.25)
		b = append(b, kscales()...)
		qh := make([]byte, 32)
		qs := make([]byte, 128)
		for g := range 4 {
			for l := range 32 {
				lo, hi := (64*g+l)%32, (64*g+l+32)%32
				qs[32*g+l] = byte(lo&15 | (hi&15)<<4)
				qh[l] |= byte(lo>>4)<<(2*g) | byte(hi>>4)<<(2*g+1)
			}
		}
		b = append(append(b, qh...), qs...)
		got := make([]float32, 256)
		Dequantize(got, Q5_K, b)
		for i, v := range got {
			if v != kwant(i, 32) {
				t.Fatalf("element %d: %g, want %g", i, v, kwant(i, 32))
			}
		}
	})
	t.Run("Q6_K", func(t *testing.T) {
		// Element i has level i mod 64 and sub-block scale (i/16)−8; d = 0.5.
		ql, qh := make([]byte, 128), make([]byte, 64)
		for h := range 2 {
			for l := range 32 {
				q := func(k int) byte { return byte((128*h + l + 32*k) % 64) }
				ql[64*h+l] = q(0)&15 | (q(2)&15)<<4
				ql[64*h+l+32] = q(1)&15 | (q(3)&15)<<4
				qh[32*h+l] = q(0)>>4 | (q(1)>>4)<<2 | (q(2)>>4)<<4 | (q(3)>>4)<<6
			}
		}
		b := append(ql, qh...)
		for j := range 16 {
			b = append(b, byte(int8(j-8)))
		}
		b = f16bytes(b, 0.5)
		got := make([]float32, 256)
		Dequantize(got, Q6_K, b)
		for i, v := range got {
			if want := 0.5 * float32(i/16-8) * float32(i%64-32); v != want {
				t.Fatalf("element %d: %g, want %g", i, v, want)
			}
		}
	})
}

// TestQuantizeRoundTrip quantizes random rows (Gaussian, with outliers, constant, zero) and
// bounds the error of each format; Q5_K, which no golden file holds, is checked here.
func TestQuantizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rows := map[string][]float32{"zero": make([]float32, 512), "constant": make([]float32, 512)}
	g, out := make([]float32, 4096), make([]float32, 4096)
	for i := range g {
		g[i] = float32(r.NormFloat64() * 0.02)
		out[i] = g[i]
		if i%97 == 0 {
			out[i] *= 30
		}
	}
	rows["gaussian"], rows["outliers"] = g, out
	for i := range rows["constant"] {
		rows["constant"][i] = -0.75
	}
	// Relative RMS error bounds on the Gaussian rows, a little above what each format gives
	// (ggml's bits per weight: 8.5, 6.56, 5.5, 4.5).
	rms := map[DType]float64{Q8_0: 0.006, Q6_K: 0.02, Q5_K: 0.04, Q4_K: 0.08}
	for _, dt := range blockDTypes {
		for name, x := range rows {
			q := make([]byte, dt.Bytes(len(x)))
			Quantize(q, dt, x)
			y := make([]float32, len(x))
			Dequantize(y, dt, q)
			var se, sx, worst float64
			for i := range x {
				e := math.Abs(float64(y[i]) - float64(x[i]))
				if !(e <= 1e9) {
					t.Fatalf("%s %s: element %d is %g", dt, name, i, y[i])
				}
				se += e * e
				sx += float64(x[i]) * float64(x[i])
				worst = max(worst, e)
			}
			rel := math.Sqrt(se / max(sx, 1e-300))
			switch name {
			case "zero":
				if worst != 0 {
					t.Errorf("%s zero: error %g", dt, worst)
				}
			case "constant":
				if worst > 0.75*0.01 {
					t.Errorf("%s constant: error %g", dt, worst)
				}
			case "gaussian":
				if rel > rms[dt] {
					t.Errorf("%s gaussian: relative RMS error %.4f, want at most %.4f", dt, rel, rms[dt])
				}
			}
			t.Logf("%s %-9s relative RMS error %.5f, worst %.3g", dt, name, rel, worst)
		}
	}
}

func TestHostQuantize(t *testing.T) {
	x := make([]float32, 2*256)
	for i := range x {
		x[i] = float32(i%17) - 8
	}
	h := FromF32(x, 2, 256)
	for _, dt := range blockDTypes {
		q, err := h.Quantize(dt)
		if err != nil || q.DType != dt || len(q.Data) != dt.Bytes(512) || ShapeString(q.Shape) != "[2, 256]" {
			t.Fatalf("%s: %v %v %d", dt, err, q.Shape, len(q.Data))
		}
		if y := q.ToF32(); len(y) != 512 || math.Abs(float64(y[3]-x[3])) > 0.5 {
			t.Errorf("%s: %g for %g", dt, y[3], x[3])
		}
	}
	if _, err := FromF32(make([]float32, 100), 100).Quantize(Q8_0); err == nil {
		t.Error("100-element rows quantized to Q8_0")
	}
	if _, err := h.Quantize(BF16); err == nil {
		t.Error("BF16 accepted as a block format")
	}
}
