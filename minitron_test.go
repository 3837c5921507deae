package minitron

import (
	"context"
	"strings"
	"testing"
)

func TestStopper(t *testing.T) {
	tests := []struct {
		stops  []string
		pieces []string
		want   []string // what each push releases
		found  int      // index of the push that finds a stop string, or -1
	}{
		{nil, []string{"a", "b"}, []string{"a", "b"}, -1},
		{[]string{"END"}, []string{"abc", "E", "N", "x"}, []string{"abc", "", "", "ENx"}, -1},
		{[]string{"END"}, []string{"abc", "EN", "D!"}, []string{"abc", "", ""}, 2},
		{[]string{"END"}, []string{"abEND tail"}, []string{"ab"}, 0},
		{[]string{"xy", "b"}, []string{"axyb"}, []string{"a"}, 0},
		{[]string{"\n\n"}, []string{"line\n", "\n"}, []string{"line", ""}, 1},
		{[]string{"ab"}, []string{"a"}, []string{"a"}, -1}, // end of generation: held text goes out
	}
	for _, tt := range tests {
		s := stopper{stops: tt.stops}
		found := -1
		for i, p := range tt.pieces {
			out, f := s.push(p, i == len(tt.pieces)-1)
			if out != tt.want[i] {
				t.Errorf("%q over %q: push %d released %q, want %q", tt.stops, tt.pieces, i, out, tt.want[i])
			}
			if f {
				found = i
				break
			}
		}
		if found != tt.found {
			t.Errorf("%q over %q: found at %d, want %d", tt.stops, tt.pieces, found, tt.found)
		}
	}
}

func TestStreamBreakAndErrors(t *testing.T) {
	m, err := Load("testdata/models/tiny-a", Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n := 0
	for _, err := range m.Stream(context.Background(), "Once", GenerateOptions{MaxTokens: 50}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("%d tokens before break", n)
	}
	var errs []error
	for _, err := range m.Stream(context.Background(), "", GenerateOptions{}) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "empty prompt") {
		t.Errorf("empty prompt: %v", errs)
	}
	if _, err := m.Generate(context.Background(), "x", GenerateOptions{Stop: []string{"\xc3"}}, nil); err == nil {
		t.Error("invalid UTF-8 stop string accepted")
	}
	if _, err := Load("testdata/models/nonexistent", Options{}); err == nil {
		t.Error("loaded a missing model")
	}
}
