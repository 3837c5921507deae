package goldentest

import (
	"fmt"
	"math"

	"github.com/minitron-go/minitron/nemotron"
)

// Forward64 is a Nemotron forward pass in float64, written from the architecture's definition
// (transformers' modeling_nemotron.py, testdata/GOLDEN.md) and sharing no code with the
// engine: the reference for weights the transformers goldens were not computed from, such as
// a model's quantized weights dequantized. w returns a tensor's values by Hugging Face name
// (row-major, the checkpoint's shape). It returns the logits [len(ids), vocab].
//
// As transformers does, the rotary angles are float32 products of the position and a float32
// inverse frequency; everything else is float64.
func Forward64(c nemotron.Config, w func(name string) []float64, ids []int32) []float64 {
	T, H := len(ids), c.Hidden
	x := make([]float64, T*H)
	emb := w("model.embed_tokens.weight")
	for i, id := range ids {
		copy(x[i*H:(i+1)*H], emb[int(id)*H:(int(id)+1)*H])
	}
	norm := func(prefix string, x []float64) []float64 {
		g, b := w(prefix+".weight"), w(prefix+".bias")
		out := make([]float64, len(x))
		for r := range len(x) / H {
			row := x[r*H : (r+1)*H]
			var mean, v float64
			for _, e := range row {
				mean += e
			}
			mean /= float64(H)
			for _, e := range row {
				v += (e - mean) * (e - mean)
			}
			v /= float64(H)
			for i, e := range row {
				out[r*H+i] = (e-mean)/math.Sqrt(v+c.NormEps)*(1+g[i]) + b[i]
			}
		}
		return out
	}
	// linear is x[T, in]·W[out, in]ᵀ.
	linear := func(x []float64, name string, out int) []float64 {
		m := w(name)
		in := len(m) / out
		y := make([]float64, T*out)
		for r := range T {
			for j := range out {
				var s float64
				for p := range in {
					s += x[r*in+p] * m[j*in+p]
				}
				y[r*out+j] = s
			}
		}
		return y
	}
	rot, hd := c.RotaryDims(), c.HeadDim
	rotate := func(v []float64, heads int) {
		half := rot / 2
		for pos := range T {
			for h := range heads {
				base := pos*heads*hd + h*hd
				for i := range half {
					inv := float32(1 / float32(math.Pow(c.RopeTheta, float64(float32(2*i)/float32(rot)))))
					a := float64(float32(pos) * inv)
					cs, sn := math.Cos(a), math.Sin(a)
					x0, x1 := v[base+i], v[base+i+half]
					v[base+i], v[base+i+half] = x0*cs-x1*sn, x1*cs+x0*sn
				}
			}
		}
	}
	qd, kvd := c.QDim(), c.KVDim()
	for l := range c.Layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		// attention
		h := norm(p+"input_layernorm", x)
		q := linear(h, p+"self_attn.q_proj.weight", qd)
		k := linear(h, p+"self_attn.k_proj.weight", kvd)
		v := linear(h, p+"self_attn.v_proj.weight", kvd)
		rotate(q, c.Heads)
		rotate(k, c.KVHeads)
		a := make([]float64, T*qd)
		group := c.Heads / c.KVHeads
		scale := 1 / math.Sqrt(float64(hd))
		for i := range T {
			for hh := range c.Heads {
				kv := (hh / group) * hd
				sc := make([]float64, i+1)
				mx := math.Inf(-1)
				for j := range sc {
					for d := range hd {
						sc[j] += q[i*qd+hh*hd+d] * k[j*kvd+kv+d]
					}
					sc[j] *= scale
					mx = max(mx, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					for d := range hd {
						a[i*qd+hh*hd+d] += sc[j] / sum * v[j*kvd+kv+d]
					}
				}
			}
		}
		for i, e := range linear(a, p+"self_attn.o_proj.weight", H) {
			x[i] += e
		}
		// mlp: down(relu(up(h))²)
		h = norm(p+"post_attention_layernorm", x)
		u := linear(h, p+"mlp.up_proj.weight", c.Intermediate)
		for i, e := range u {
			u[i] = max(e, 0) * max(e, 0)
		}
		for i, e := range linear(u, p+"mlp.down_proj.weight", H) {
			x[i] += e
		}
	}
	head := "lm_head.weight"
	if c.TieEmbeddings {
		head = "model.embed_tokens.weight"
	}
	return linear(norm("model.norm", x), head, c.VocabSize)
}
