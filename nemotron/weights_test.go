package nemotron

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/tensor"
)

// zeroSource has a zero tensor for every parameter of a config.
type zeroSource map[string]tensor.Host

func (s zeroSource) Names() []string {
	var names []string
	for n := range s {
		names = append(names, n)
	}
	return names
}

func (s zeroSource) Tensor(name string) (tensor.Host, string, bool) {
	t, ok := s[name]
	return t, "zeros", ok
}

// The table of specs binds every field of weights exactly once: a field the table forgets
// stays nil, one it names twice shares a tensor with another.
func TestWeightTableFillsEveryField(t *testing.T) {
	b, err := cpu.New(backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tied := range []bool{false, true} {
		c := Config{VocabSize: 32, Hidden: 8, Intermediate: 16, Layers: 2, Heads: 2, KVHeads: 1, HeadDim: 4,
			MaxPositions: 16, NormEps: 1e-5, RopeTheta: 1e4, PartialRotary: 0.5, BOS: 2, EOS: []int{3}, TieEmbeddings: tied}
		src := zeroSource{}
		for _, p := range c.Params() {
			if _, dup := src[p.Name]; dup {
				t.Errorf("%s is listed twice", p.Name)
			}
			src[p.Name] = tensor.Zeros(tensor.F32, p.Shape...)
			if p.Role.Matrix() != (len(p.Shape) == 2 && p.Role != RoleEmbedding) || (p.Role == RoleNorm) != (len(p.Shape) == 1) {
				t.Errorf("%s: role %s does not fit shape %v", p.Name, p.Role, p.Shape)
			}
			if !strings.HasSuffix(p.Name, p.Part) || (p.Layer < 0) != (p.Part == p.Name) {
				t.Errorf("%s: part %q", p.Name, p.Part)
			}
			if want := fmt.Sprintf("model.layers.%d.", p.Layer); p.Layer >= c.Layers || p.Layer >= 0 != strings.HasPrefix(p.Name, want) || p.Layer < 0 && strings.HasPrefix(p.Name, "model.layers.") {
				t.Errorf("%s: layer %d", p.Name, p.Layer)
			}
		}
		if _, ok := src["lm_head.weight"]; ok == tied {
			t.Errorf("tied=%v: lm_head.weight listed %v", tied, ok)
		}
		w, err := bindWeights(c, src, b, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(w.layers) != c.Layers {
			t.Fatalf("%d layers bound, want %d", len(w.layers), c.Layers)
		}
		seen := map[uintptr]string{} // by the address the interface holds: the fields are unexported
		check := func(v reflect.Value, where string) {
			for i := range v.NumField() {
				f := v.Field(i)
				if f.Type() != reflect.TypeFor[backend.Tensor]() {
					continue
				}
				name := where + v.Type().Field(i).Name
				if f.IsNil() {
					t.Errorf("tied=%v: %s is not bound", tied, name)
					continue
				}
				bt := f.Elem().Pointer()
				if other, ok := seen[bt]; ok && !(tied && name == "head" && other == "embed") {
					t.Errorf("tied=%v: %s and %s are the same tensor", tied, other, name)
				}
				seen[bt] = name
			}
		}
		check(reflect.ValueOf(w).Elem(), "")
		for l := range w.layers {
			check(reflect.ValueOf(&w.layers[l]).Elem(), fmt.Sprintf("layers[%d].", l))
		}
		if tied && w.head != w.embed {
			t.Error("a tied head is not the embedding table")
		}
	}
}

// Each role is where the architecture puts it: one embedding and one head, four norms per
// layer and two after the last, one of each projection per layer.
func TestWeightRoles(t *testing.T) {
	c := Minitron4B()
	count := map[Role]int{}
	for _, p := range c.Params() {
		count[p.Role]++
		if p.Role.String() == fmt.Sprintf("Role(%d)", int(p.Role)) {
			t.Errorf("%s: role %d has no name", p.Name, p.Role)
		}
	}
	want := map[Role]int{RoleEmbedding: 1, RoleHead: 1, RoleNorm: 4*c.Layers + 2,
		RoleQuery: c.Layers, RoleKey: c.Layers, RoleValue: c.Layers, RoleAttnOut: c.Layers, RoleUp: c.Layers, RoleDown: c.Layers}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("roles %v, want %v", count, want)
	}
	for r := RoleEmbedding; r <= RoleHead; r++ {
		if r.Matrix() == (r == RoleEmbedding || r == RoleNorm) {
			t.Errorf("%s.Matrix() = %v", r, r.Matrix())
		}
	}
}
