package tensor

import (
	"fmt"
	"strings"
	"sync"

	"github.com/klauspost/cpuid/v2"
)

// CPU describes the processor the kernels run on, as the cpuid instruction reports it
// (github.com/klauspost/cpuid/v2): what the kernel levels are chosen from, what kernel
// parameters (rows in flight, prefetch distance, block sizes) may be chosen from, and what
// a benchmark names beside its figures.
type CPU struct {
	Vendor        string // "AMD", "Intel", …; "" when unknown
	Brand         string // the brand string the CPU reports (a VM may shorten it, e.g. "AMD EPYC")
	Family, Model int    // display family and model, e.g. AMD family 25 model 17 for an EPYC Zen 4
	L1D, L2, L3   int    // data cache sizes in bytes, per core or shared as cpuid reports them; 0 when unknown
	Threads       int    // logical cores of the machine; 0 when unknown
	Features      Features
	Level         Level // the best kernel level this CPU and this build run
	Active        Level // the level the engine uses: Level, or lower where $MINITRON_CPU caps it
}

// Features are the CPU features the kernels look at. Those that need operating-system
// support for their register state (AVX2, AVX-512, AMX) are reported only where the
// OS enables that state (XGETBV); AMX also needs Linux's permission, which the AMX level
// asks for on first use.
type Features struct {
	AVX2, FMA, F16C                       bool
	AVX512F, AVX512BW, AVX512DQ, AVX512VL bool
	AVX512BF16, AVX512VNNI, AVXVNNI       bool
	AMXTile, AMXBF16                      bool
}

// names lists the features that are set, in the order of the struct.
func (f Features) names() []string {
	var s []string
	for _, x := range []struct {
		has  bool
		name string
	}{
		{f.AVX2, "avx2"}, {f.FMA, "fma"}, {f.F16C, "f16c"},
		{f.AVX512F, "avx512f"}, {f.AVX512BW, "avx512bw"}, {f.AVX512DQ, "avx512dq"}, {f.AVX512VL, "avx512vl"},
		{f.AVX512BF16, "avx512_bf16"}, {f.AVX512VNNI, "avx512_vnni"}, {f.AVXVNNI, "avx_vnni"},
		{f.AMXTile, "amx_tile"}, {f.AMXBF16, "amx_bf16"},
	} {
		if x.has {
			s = append(s, x.name)
		}
	}
	return s
}

// String names the CPU in one line, e.g. on this project's Zen 4 VM:
//
//	AMD EPYC (AMD family 25 model 17; L1d 32 KiB, L2 1 MiB, L3 32 MiB; 2 threads; avx2 fma f16c avx512f avx512bw avx512dq avx512vl avx512_bf16 avx512_vnni; kernels avx512bf16)
func (c CPU) String() string {
	size := func(b int) string {
		switch {
		case b <= 0:
			return "?"
		case b%(1<<20) == 0:
			return fmt.Sprintf("%d MiB", b>>20)
		default:
			return fmt.Sprintf("%d KiB", b>>10)
		}
	}
	brand := c.Brand
	if brand == "" {
		brand = "unknown CPU"
	}
	kernels := c.Level.String()
	if c.Active != c.Level {
		kernels = fmt.Sprintf("%s (capped from %s)", c.Active, c.Level)
	}
	return fmt.Sprintf("%s (%s family %d model %d; L1d %s, L2 %s, L3 %s; %d threads; %s; kernels %s)",
		brand, c.Vendor, c.Family, c.Model, size(c.L1D), size(c.L2), size(c.L3), c.Threads,
		strings.Join(c.Features.names(), " "), kernels)
}

// HostCPU describes this machine's CPU.
func HostCPU() CPU {
	c := hostCPU()
	impls := Implementations()
	c.Level = impls[len(impls)-1].Level
	c.Active = Active().Level
	return c
}

// hostCPU reads cpuid once; the kernel levels are chosen from its Features.
var hostCPU = sync.OnceValue(func() CPU {
	id := cpuid.CPU
	pos := func(n int) int { return max(n, 0) }
	c := CPU{
		Brand:   strings.TrimSpace(id.BrandName),
		Family:  id.Family,
		Model:   id.Model,
		L1D:     pos(id.Cache.L1D),
		L2:      pos(id.Cache.L2),
		L3:      pos(id.Cache.L3),
		Threads: pos(id.LogicalCores),
		Features: Features{
			AVX2:       id.Supports(cpuid.AVX2),
			FMA:        id.Supports(cpuid.FMA3),
			F16C:       id.Supports(cpuid.F16C),
			AVX512F:    id.Supports(cpuid.AVX512F),
			AVX512BW:   id.Supports(cpuid.AVX512BW),
			AVX512DQ:   id.Supports(cpuid.AVX512DQ),
			AVX512VL:   id.Supports(cpuid.AVX512VL),
			AVX512BF16: id.Supports(cpuid.AVX512BF16),
			AVX512VNNI: id.Supports(cpuid.AVX512VNNI),
			AVXVNNI:    id.Supports(cpuid.AVXVNNI),
			AMXTile:    id.Supports(cpuid.AMXTILE),
			AMXBF16:    id.Supports(cpuid.AMXBF16),
		},
	}
	if id.VendorID != cpuid.VendorUnknown {
		c.Vendor = id.VendorID.String()
	}
	return c
})
