package cuda

import (
	"os"
	"testing"
)

// What the conformance test's model of the matrix product needs (cuda_test.go).
const GemvMaxRows = gemvMaxRows

// skipOrRequire skips the test for want of a GPU or its libraries, or fails it when
// MINITRON_CUDA_REQUIRE=1 (as cuda_test.go's open does).
func skipOrRequire(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("MINITRON_CUDA_REQUIRE") == "1" {
		t.Fatalf("MINITRON_CUDA_REQUIRE=1: "+format, args...)
	}
	t.Skipf(format, args...)
}
