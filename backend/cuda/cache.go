package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// CacheDirEnv overrides where compiled kernels are kept (by default the user's cache
// directory, minitron/cuda). Setting it to "off" disables the cache.
const CacheDirEnv = "MINITRON_CUDA_CACHE"

// cacheKey names a compiled kernel image by everything that determines it: the source, the
// target (sm_90 for a CUBIN, compute_90 for PTX), the NVRTC version and the options.
func cacheKey(source []byte, target string, nvrtcMajor, nvrtcMinor int, options []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "minitron cuda kernels\x00%s\x00nvrtc %d.%d\x00%s\x00", target, nvrtcMajor, nvrtcMinor, strings.Join(options, "\x00"))
	h.Write(source)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// cacheDir is the directory compiled kernels are kept in, or "" when caching is off or no
// cache directory is known.
func cacheDir(getenv func(string) string) string {
	switch d := getenv(CacheDirEnv); d {
	case "off":
		return ""
	case "":
	default:
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "minitron", "cuda")
}

// cacheFile is the path of the image for target and key in dir.
func cacheFile(dir, target, key string) string {
	ext := "cubin"
	if strings.HasPrefix(target, "compute_") {
		ext = "ptx"
	}
	return filepath.Join(dir, fmt.Sprintf("kernels-%s-%s.%s", target, key, ext))
}

// writeCacheFile writes data to path atomically: a temporary file in the same directory,
// renamed into place, so that a concurrent reader sees the whole image or none.
func writeCacheFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".kernels-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// chooseTarget picks what NVRTC compiles for a device of compute capability cc (86 for 8.6):
// a CUBIN for the device's own architecture when NVRTC can make one, so that the driver need
// not understand NVRTC's PTX version; otherwise PTX for the newest architecture NVRTC knows
// that the device can run, for the driver to compile. archs is what NVRTC supports (nil when
// it cannot say); cubin says whether it has nvrtcGetCUBIN.
func chooseTarget(cc int, archs []int, cubin bool) (string, error) {
	if len(archs) == 0 || slices.Contains(archs, cc) {
		if cubin {
			return fmt.Sprintf("sm_%d", cc), nil
		}
		return fmt.Sprintf("compute_%d", cc), nil
	}
	best := 0
	for _, a := range archs {
		if a <= cc && a > best {
			best = a
		}
	}
	if best == 0 {
		return "", fmt.Errorf("NVRTC cannot compile for compute capability %d.%d (it supports %v)", cc/10, cc%10, archs)
	}
	return fmt.Sprintf("compute_%d", best), nil
}
