package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// LibDirEnv names the environment variable that overrides where the CUDA toolkit libraries
// (cuBLAS, NVRTC) are looked for: a list of directories (separated like PATH) searched alone.
// The driver library is searched there first and then in the usual places, since it belongs
// to the system's driver rather than to a toolkit.
const LibDirEnv = "MINITRON_CUDA_LIB_DIR"

// A library is one of the shared libraries the backend loads at run time.
type library struct {
	what    string   // for messages: "the CUDA driver (libcuda)"
	sonames []string // in order of preference
	// toolkit libraries are searched in CUDA toolkit and Python wheel directories, and only
	// in LibDirEnv when it is set.
	toolkit bool
	// wheelDirs are the directories under a Python site-packages that NVIDIA's wheels
	// install the library into: nvidia/cu13/lib for CUDA 13, nvidia/<lib>/lib before.
	wheelDirs []string
	// deps are glob patterns of libraries the library needs that sit beside it: they are
	// loaded from the same directory first, so that a directory missing from the loader path
	// works (the loader matches an already loaded library by its soname).
	deps func(soname string) []string
}

var (
	libDriver = library{
		what:    "the CUDA driver (libcuda)",
		sonames: []string{"libcuda.so.1"},
	}
	libCUBLAS = library{
		what:      "cuBLAS",
		sonames:   []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"},
		toolkit:   true,
		wheelDirs: []string{"nvidia/cu13/lib", "nvidia/cublas/lib"},
		deps: func(soname string) []string {
			return []string{strings.Replace(soname, "libcublas", "libcublasLt", 1)}
		},
	}
	libNVRTC = library{
		what:      "NVRTC",
		sonames:   []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11"},
		toolkit:   true,
		wheelDirs: []string{"nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"},
		// NVRTC loads its builtins library by the toolkit's full version (libnvrtc.so.11.2
		// of CUDA 11.8 loads libnvrtc-builtins.so.11.8); every one of the same major version
		// beside it is loaded first.
		deps: func(soname string) []string {
			return []string{fmt.Sprintf("libnvrtc-builtins.so.%d.*", sonameMajor(soname))}
		},
	}
)

// driverDirs hold libcuda.so.1 on common systems when the loader's cache lacks it: Debian and
// Ubuntu multiarch, Red Hat, NVIDIA's container runtime, WSL.
var driverDirs = []string{
	"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
	"/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/wsl/lib",
}

// searchEnv is what the library search reads from the system, replaceable in tests.
type searchEnv struct {
	getenv func(string) string
	glob   func(string) ([]string, error)
	isDir  func(string) bool
	isFile func(string) bool
}

func osSearchEnv() searchEnv {
	return searchEnv{
		getenv: os.Getenv,
		glob:   filepath.Glob,
		isDir: func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && fi.IsDir()
		},
		isFile: func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && !fi.IsDir()
		},
	}
}

// overrideDirs is the list in LibDirEnv, empty entries dropped.
func (e searchEnv) overrideDirs() []string {
	var dirs []string
	for d := range strings.SplitSeq(e.getenv(LibDirEnv), string(os.PathListSeparator)) {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// toolkitDirs lists, in order, the existing directories a CUDA toolkit library may be in:
// $CUDA_HOME and friends, /usr/local/cuda and its versioned siblings (newest first), conda,
// then NVIDIA's pip wheels under the site-packages of Python prefixes (virtual environments,
// the parents of PATH's bin directories, the user's and the system's).
func (e searchEnv) toolkitDirs(l library) []string {
	var dirs []string
	add := func(d string) {
		if d != "" && !slices.Contains(dirs, d) && e.isDir(d) {
			dirs = append(dirs, d)
		}
	}
	for _, v := range []string{"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"} {
		if h := e.getenv(v); h != "" {
			add(filepath.Join(h, "lib64"))
			add(filepath.Join(h, "lib"))
		}
	}
	add("/usr/local/cuda/lib64")
	versioned, _ := e.glob("/usr/local/cuda-*/lib64")
	sortNewestFirst(versioned)
	for _, d := range versioned {
		add(d)
	}
	add("/opt/cuda/lib64")
	if c := e.getenv("CONDA_PREFIX"); c != "" {
		add(filepath.Join(c, "lib"))
	}

	var prefixes []string
	addPrefix := func(p string) {
		if p != "" && !slices.Contains(prefixes, p) {
			prefixes = append(prefixes, p)
		}
	}
	addPrefix(e.getenv("VIRTUAL_ENV"))
	addPrefix(e.getenv("CONDA_PREFIX"))
	for d := range strings.SplitSeq(e.getenv("PATH"), string(os.PathListSeparator)) {
		if filepath.Base(d) == "bin" && filepath.IsAbs(d) {
			addPrefix(filepath.Dir(d))
		}
	}
	if h := e.getenv("HOME"); h != "" {
		addPrefix(filepath.Join(h, ".local"))
	}
	addPrefix("/usr/local")
	addPrefix("/usr")
	addPrefix("/opt/conda")
	for _, p := range prefixes {
		var sites []string
		for _, pat := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "lib64/python3*/site-packages"} {
			m, _ := e.glob(filepath.Join(p, pat))
			sortNewestFirst(m)
			sites = append(sites, m...)
		}
		for _, s := range sites {
			for _, w := range l.wheelDirs {
				add(filepath.Join(s, w))
			}
		}
	}
	return dirs
}

// sortNewestFirst orders paths that differ by version numbers ("cuda-12.4", "cuda-12.10",
// "python3.12") from the highest version down.
func sortNewestFirst(paths []string) {
	slices.SortStableFunc(paths, func(a, b string) int { return -compareVersions(a, b) })
}

// compareVersions compares strings by their runs of digits as numbers, the rest as text.
func compareVersions(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da > 0 && db > 0 {
			na, _ := strconv.Atoi(a[:da])
			nb, _ := strconv.Atoi(b[:db])
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// A candidate is one way to load a library: a plain soname (the dynamic loader's own search:
// LD_LIBRARY_PATH, its cache, the default directories) or a path in a directory.
type candidate struct {
	path string   // soname or absolute path
	deps []string // absolute paths to load first
}

// preferSonames orders a library's sonames for a driver that supports CUDA driverMajor (0 when
// unknown): the newest the driver can run first, then older ones, then newer ones (which
// would need a newer driver, but are better tried than not).
func preferSonames(l library, driverMajor int) []string {
	if driverMajor <= 0 {
		return l.sonames
	}
	var fit, newer []string
	for _, s := range l.sonames {
		if sonameMajor(s) <= driverMajor {
			fit = append(fit, s)
		} else {
			newer = append(newer, s)
		}
	}
	return append(fit, newer...)
}

// sonameMajor is the first number after ".so." ("libnvrtc.so.11.2" → 11).
func sonameMajor(soname string) int {
	_, v, ok := strings.Cut(soname, ".so.")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(v[:digitPrefix(v)])
	return n
}

// candidates lists how to load l, in order, and the directories searched (for messages).
func (e searchEnv) candidates(l library, driverMajor int) ([]candidate, []string) {
	var cands []candidate
	sonames := preferSonames(l, driverMajor)
	override := e.overrideDirs()
	inDir := func(dir, soname string) {
		p := filepath.Join(dir, soname)
		if !e.isFile(p) {
			return
		}
		c := candidate{path: p}
		if l.deps != nil {
			for _, d := range l.deps(soname) {
				matches, _ := e.glob(filepath.Join(dir, d))
				sortNewestFirst(matches)
				c.deps = append(c.deps, matches...)
			}
		}
		cands = append(cands, c)
	}
	if l.toolkit && len(override) > 0 {
		for _, s := range sonames {
			for _, d := range override {
				inDir(d, s)
			}
		}
		return cands, override
	}
	var searched []string
	if l.toolkit {
		searched = e.toolkitDirs(l)
	} else {
		for _, d := range driverDirs {
			if e.isDir(d) {
				searched = append(searched, d)
			}
		}
	}
	for _, s := range sonames {
		if !l.toolkit {
			for _, d := range override {
				inDir(d, s)
			}
		}
		cands = append(cands, candidate{path: s})
		for _, d := range searched {
			inDir(d, s)
		}
	}
	if !l.toolkit {
		searched = append(override, searched...)
	}
	return cands, searched
}

// opener loads a shared library by soname or path, returning a handle or the loader's message.
// A dependency is only loaded; the library itself is also checked for its entry points.
type opener func(path string, dep bool) (handle uintptr, err error)

// loadLibrary tries the candidates for l in order and returns the first that loads, or an
// error naming what was tried and how to point the backend at the library.
func (e searchEnv) loadLibrary(l library, driverMajor int, open opener) (uintptr, string, error) {
	cands, dirs := e.candidates(l, driverMajor)
	var failures []string
	for _, c := range cands {
		for _, d := range c.deps {
			open(d, true) // best effort: the library's own load reports what is really missing
		}
		h, err := open(c.path, false)
		if err == nil {
			return h, c.path, nil
		}
		// A soname the loader cannot find is the common case, not worth a line each.
		if filepath.IsAbs(c.path) || !strings.Contains(err.Error(), "No such file") {
			failures = append(failures, fmt.Sprintf("%s: %v", c.path, err))
		}
	}
	sonames := strings.Join(preferSonames(l, driverMajor), ", ")
	var msg string
	if override := e.overrideDirs(); l.toolkit && len(override) > 0 {
		msg = fmt.Sprintf("cuda: %s not found in %s=%s (looked for %s)", l.what, LibDirEnv, strings.Join(override, string(os.PathListSeparator)), sonames)
	} else {
		where := "on the loader path"
		if len(dirs) > 0 {
			where += " and in " + strings.Join(dirs, ", ")
		}
		msg = fmt.Sprintf("cuda: %s not found: looked for %s %s", l.what, sonames, where)
		if l.toolkit {
			msg += fmt.Sprintf("; install the CUDA toolkit or NVIDIA's pip wheels, or set %s to the directory that holds it", LibDirEnv)
		} else {
			msg += "; is an NVIDIA driver installed?"
		}
	}
	if len(failures) > 0 {
		msg += "; " + strings.Join(failures, "; ")
	}
	return 0, "", fmt.Errorf("%s", msg)
}
