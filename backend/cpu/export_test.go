package cpu

// What the conformance test's model of the matrix product needs (cpu_test.go).
const (
	GemmMinRows = gemmMinRows
	KBlock      = kBlock
)
