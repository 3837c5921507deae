package tensor

import "testing"

func TestHostCPU(t *testing.T) {
	c := HostCPU()
	t.Log(c)
	impls := Implementations()
	if c.Level != impls[len(impls)-1].Level {
		t.Errorf("HostCPU().Level = %s, want the best implementation, %s", c.Level, impls[len(impls)-1].Level)
	}
	if c.Active != Active().Level {
		t.Errorf("HostCPU().Active = %s, want %s", c.Active, Active().Level)
	}
	if c.String() == "" {
		t.Error("HostCPU().String() is empty")
	}
	for _, size := range []int{c.L1D, c.L2, c.L3} {
		if size < 0 {
			t.Errorf("cache size %d < 0", size)
		}
	}
}
