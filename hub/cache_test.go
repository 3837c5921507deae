package hub

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isolateEnv points every variable the package reads at nothing or at a temporary directory,
// so no test sees the developer's cache or token.
func isolateEnv(t *testing.T) (home string) {
	home = t.TempDir()
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "HF_TOKEN",
		"HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT", "HF_HUB_OFFLINE"} {
		t.Setenv(v, "")
	}
	t.Setenv("HF_HOME", filepath.Join(home, "hf"))
	t.Setenv("HOME", home)
	return home
}

func TestParseID(t *testing.T) {
	tests := []struct {
		in      string
		want    ID
		wantErr bool
	}{
		{in: "nvidia/Minitron-4B-Base", want: ID{Repo: "nvidia/Minitron-4B-Base"}},
		{in: "nvidia/Minitron-4B-Base@main", want: ID{Repo: "nvidia/Minitron-4B-Base", Revision: "main"}},
		{in: "nvidia/Minitron-4B-Base@refs/pr/1", want: ID{Repo: "nvidia/Minitron-4B-Base", Revision: "refs/pr/1"}},
		{in: "a_b/c.d-e@0123456789abcdef0123456789abcdef01234567", want: ID{Repo: "a_b/c.d-e", Revision: "0123456789abcdef0123456789abcdef01234567"}},
		{in: "gpt2", wantErr: true},
		{in: "a/b/c", wantErr: true},
		{in: "/abs", wantErr: true},
		{in: "a--b/c", wantErr: true},
		{in: "a/b..c", wantErr: true},
		{in: "a/b-", wantErr: true},
		{in: "a/b c", wantErr: true},
		{in: "a/b@", wantErr: true},
		{in: "a/b@../../etc", wantErr: true},
		{in: "a/b@refs//x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseID(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseID(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseID(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestLooksLikePath(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"nvidia/Minitron-4B-Base", false},
		{"nvidia/Minitron-4B-Base@refs/pr/1", false},
		{"./nvidia/Minitron-4B-Base", true},
		{"../model", true},
		{".", true},
		{"/models/minitron", true},
		{"~/models/minitron", true},
		{"models/nvidia/minitron", true},
		{"minitron", true},
		{`models\minitron`, true},
	}
	for _, tt := range tests {
		if got := looksLikePath(tt.in); got != tt.want {
			t.Errorf("looksLikePath(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCacheDir(t *testing.T) {
	home := isolateEnv(t)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"default", nil, filepath.Join(home, ".cache/huggingface/hub")},
		{"XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": "/xdg"}, "/xdg/huggingface/hub"},
		{"HF_HOME over XDG", map[string]string{"HF_HOME": "/hfhome", "XDG_CACHE_HOME": "/xdg"}, "/hfhome/hub"},
		{"legacy HUGGINGFACE_HUB_CACHE over HF_HOME", map[string]string{"HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/hfhome"}, "/legacy"},
		{"HF_HUB_CACHE first", map[string]string{"HF_HUB_CACHE": "/hubcache", "HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/hfhome"}, "/hubcache"},
		{"tilde", map[string]string{"HF_HOME": "~/hf"}, filepath.Join(home, "hf/hub")},
		{"variable", map[string]string{"HF_HUB_CACHE": "$HOME/c"}, filepath.Join(home, "c")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HF_HOME", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if got := CacheDir(); got != tt.want {
				t.Errorf("CacheDir() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestToken(t *testing.T) {
	home := isolateEnv(t)
	hfHome := filepath.Join(home, "hf")
	if err := os.MkdirAll(hfHome, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hfHome, "token"), []byte("hf_fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(home, "other-token")
	if err := os.WriteFile(other, []byte("hf_frompath"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"login file under HF_HOME", nil, "hf_fromfile"},
		{"HF_TOKEN_PATH", map[string]string{"HF_TOKEN_PATH": other}, "hf_frompath"},
		{"legacy variable", map[string]string{"HUGGING_FACE_HUB_TOKEN": "hf_legacy"}, "hf_legacy"},
		{"HF_TOKEN first", map[string]string{"HF_TOKEN": " hf_env ", "HUGGING_FACE_HUB_TOKEN": "hf_legacy"}, "hf_env"},
		{"no file", map[string]string{"HF_TOKEN_PATH": filepath.Join(home, "missing")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if got := Token(); got != tt.want {
				t.Errorf("Token() = %q, want %q", got, tt.want)
			}
		})
	}
}

const (
	handCommit = "0123456789abcdef0123456789abcdef01234567"
	oldCommit  = "89abcdef0123456789abcdef0123456789abcdef"
)

// handMadeCache writes a cache as huggingface-cli leaves it: blobs named by ETag, snapshot
// entries as relative symlinks, refs/main holding the commit (without a newline).
func handMadeCache(t *testing.T, cache string) (snapshot string) {
	t.Helper()
	repo := filepath.Join(cache, "models--nvidia--Minitron-4B-Base")
	write := func(path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(repo, "blobs", "d7edf6bd2a681fb0175f7735299831ee1b22b812"), `{"model_type":"nemotron"}`)
	write(filepath.Join(repo, "blobs", "403450e234d65943a7dcf7e05a771ce3c92faa84dd07db4ac20f592037a1e4bd"), "weights")
	for _, c := range []string{handCommit, oldCommit} {
		snap := filepath.Join(repo, "snapshots", c)
		symlink("../../blobs/d7edf6bd2a681fb0175f7735299831ee1b22b812", filepath.Join(snap, "config.json"))
		symlink("../../blobs/403450e234d65943a7dcf7e05a771ce3c92faa84dd07db4ac20f592037a1e4bd", filepath.Join(snap, "model.safetensors"))
	}
	write(filepath.Join(repo, "refs", "main"), handCommit)
	write(filepath.Join(repo, "refs", "refs", "pr", "1"), oldCommit+"\n")
	// A revision whose download never got to config.json.
	write(filepath.Join(repo, "refs", "partial"), "fedcba9876543210fedcba9876543210fedcba98")
	if err := os.MkdirAll(filepath.Join(repo, "snapshots", "fedcba9876543210fedcba9876543210fedcba98"), 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(repo, "snapshots", handCommit)
}

func TestResolveHandMadeCache(t *testing.T) {
	home := isolateEnv(t)
	cache := filepath.Join(home, "hf", "hub") // the default under HF_HOME
	snap := handMadeCache(t, cache)
	repo := filepath.Dir(filepath.Dir(snap))
	local := t.TempDir()
	t.Chdir(home)
	if err := os.MkdirAll(filepath.Join(home, "my", "model"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		arg     string
		want    string
		errHas  []string // substrings of the error; nil means success
		errNot  []string
		wantNot bool
	}{
		{arg: local, want: local},
		{arg: "~/my/model", want: filepath.Join(home, "my/model")},
		{arg: "~/not/there", errHas: []string{filepath.Join(home, "not/there"), "no such directory"}},
		{arg: "my/model", want: "my/model"}, // an existing relative dir wins over a hub id
		{arg: "nvidia/Minitron-4B-Base", want: snap},
		{arg: "nvidia/Minitron-4B-Base@main", want: snap},
		{arg: "nvidia/Minitron-4B-Base@" + oldCommit, want: filepath.Join(repo, "snapshots", oldCommit)},
		{arg: "nvidia/Minitron-4B-Base@refs/pr/1", want: filepath.Join(repo, "snapshots", oldCommit)},
		{arg: "nvidia/Minitron-4B-Base@89abcde", want: filepath.Join(repo, "snapshots", oldCommit)},
		{arg: "nvidia/Minitron-4B-Base@v2", errHas: []string{
			filepath.Join(repo, "refs", "v2"), "nvidia/Minitron-4B-Base@v2 (no such", "minitron pull nvidia/Minitron-4B-Base@v2"}},
		{arg: "nvidia/Minitron-4B-Base@partial", errHas: []string{"config.json", "minitron pull"}},
		{arg: "nvidia/Other", errHas: []string{
			filepath.Join(cache, "models--nvidia--Other", "refs", "main"), "minitron pull nvidia/Other"}},
		{arg: "./nvidia/Minitron-4B-Base", errHas: []string{"no such directory", "./nvidia/Minitron-4B-Base"}, errNot: []string{"minitron pull", cache}},
		{arg: "/does/not/exist", errHas: []string{"/does/not/exist", "no such"}, errNot: []string{"minitron pull"}},
		{arg: "models/nvidia/minitron", errHas: []string{"no such directory"}, errNot: []string{"minitron pull"}},
		{arg: "minitron", errHas: []string{"no such directory", "Hugging Face id"}},
		{arg: "", errHas: []string{"no model"}},
	}
	for _, tt := range tests {
		got, err := Resolve(tt.arg)
		if tt.errHas == nil {
			if err != nil || got != tt.want {
				t.Errorf("Resolve(%q) = %q, %v; want %q", tt.arg, got, err, tt.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("Resolve(%q) = %q, want an error", tt.arg, got)
			continue
		}
		for _, s := range tt.errHas {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Resolve(%q) error %q does not mention %q", tt.arg, err, s)
			}
		}
		for _, s := range tt.errNot {
			if strings.Contains(err.Error(), s) {
				t.Errorf("Resolve(%q) error %q mentions %q", tt.arg, err, s)
			}
		}
	}
}

func TestResolveHonoursHubCacheVariable(t *testing.T) {
	isolateEnv(t)
	cache := t.TempDir()
	snap := handMadeCache(t, cache)
	t.Setenv("HF_HUB_CACHE", cache)
	got, err := Resolve("nvidia/Minitron-4B-Base")
	if err != nil || got != snap {
		t.Fatalf("Resolve = %q, %v; want %q", got, err, snap)
	}
	if _, err := os.Stat(filepath.Join(got, "model.safetensors")); err != nil {
		t.Errorf("snapshot entry does not resolve: %v", err)
	}
}
