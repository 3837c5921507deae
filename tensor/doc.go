// Package tensor holds host tensors (a dtype, a shape and little-endian bytes that may be a
// memory-mapped view of a checkpoint) and the CPU kernels that compute on them.
//
// Every kernel has a plain-Go version that documents what it computes; faster versions are
// chosen at run time from the CPU's features and are tested against the plain ones.
package tensor
