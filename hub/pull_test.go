package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minitron-go/minitron/hub/hubtest"
)

const (
	repoID = "nvidia/Minitron-4B-Base"
	shard1 = "model-00001-of-00002.safetensors"
	shard2 = "model-00002-of-00002.safetensors"
)

// pseudoRandom returns n bytes that differ with seed, so that no two files share a blob.
func pseudoRandom(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// minitronFiles is a repository laid out like nvidia/Minitron-4B-Base, with small files.
func minitronFiles() map[string][]byte {
	return map[string][]byte{
		"config.json":                  []byte(`{"architectures":["NemotronForCausalLM"],"model_type":"nemotron"}`),
		"generation_config.json":       []byte(`{"bos_token_id":2,"eos_token_id":3}`),
		"tokenizer.model":              pseudoRandom(5000, 1),
		"tokenizer_config.json":        []byte(`{"add_bos_token":true}`),
		"special_tokens_map.json":      []byte(`{"bos_token":"<s>"}`),
		"model.safetensors.index.json": []byte(`{"weight_map":{}}`),
		shard1:                         pseudoRandom(300_000, 2),
		shard2:                         pseudoRandom(200_000, 3),
		"pytorch_model.bin":            pseudoRandom(1000, 4), // superseded by the safetensors
		"README.md":                    []byte("# Minitron\n"),
		".gitattributes":               []byte("*.safetensors filter=lfs\n"),
		"nemo/minitron.nemo":           pseudoRandom(1000, 5),
	}
}

var minitronWanted = []string{
	"config.json", "generation_config.json", shard1, shard2, "model.safetensors.index.json",
	"special_tokens_map.json", "tokenizer.model", "tokenizer_config.json",
}

// newHub starts a fake Hub with Minitron on it and returns options that pull from it into a
// fresh cache, retrying quickly.
func newHub(t *testing.T) (*hubtest.Server, Options, string) {
	t.Helper()
	isolateEnv(t)
	s := hubtest.New(t)
	commit := s.AddRepo(hubtest.Repo{ID: repoID, Files: minitronFiles()})
	opts := Options{Endpoint: s.URL(), CacheDir: t.TempDir(), RetryDelay: time.Millisecond, Retries: 3}
	return s, opts, commit
}

// checkSnapshot checks that dir holds exactly the wanted files, each a relative symlink into
// blobs/ named by its ETag, as huggingface_hub lays them out.
func checkSnapshot(t *testing.T, dir string, files map[string][]byte, want []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("snapshot holds %q, want %q", got, want)
	}
	for _, name := range want {
		p := filepath.Join(dir, name)
		target, err := os.Readlink(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if w := "../../blobs/" + hubtest.ETag(name, files[name]); target != w {
			t.Errorf("%s -> %s, want %s", name, target, w)
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(data, files[name]) {
			t.Errorf("%s: contents differ (err %v)", name, err)
		}
	}
	blobs, _ := filepath.Glob(filepath.Join(dir, "../../blobs/*.incomplete"))
	if len(blobs) > 0 {
		t.Errorf("left behind: %q", blobs)
	}
}

func readRef(t *testing.T, opts Options, repo, rev string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(opts.CacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"), "refs", filepath.FromSlash(rev)))
	if err != nil {
		return ""
	}
	return string(b)
}

// gets returns the paths of the GET requests for files (not the API) that s received.
func gets(s *hubtest.Server) []hubtest.Request {
	var out []hubtest.Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodGet && !strings.HasPrefix(r.Path, "/api/") {
			out = append(out, r)
		}
	}
	return out
}

func TestPullLayout(t *testing.T) {
	s, opts, commit := newHub(t)
	dir, err := Pull(context.Background(), repoID, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(opts.CacheDir, "models--nvidia--Minitron-4B-Base", "snapshots", commit); dir != want {
		t.Errorf("Pull = %q, want %q", dir, want)
	}
	checkSnapshot(t, dir, minitronFiles(), minitronWanted)
	if got := readRef(t, opts, repoID, "main"); got != commit {
		t.Errorf("refs/main = %q, want %q", got, commit)
	}
	// LFS files come from the CDN; small files from the Hub itself.
	for _, r := range gets(s) {
		lfs := r.Server == "cdn"
		if name := filepath.Base(r.Path); lfs == strings.HasSuffix(name, ".json") {
			t.Errorf("%s fetched from %s", r.Path, r.Server)
		}
	}

	// A second pull finds everything in place and downloads nothing.
	s.ResetLog()
	dir2, err := Pull(context.Background(), repoID, "main", opts)
	if err != nil || dir2 != dir {
		t.Fatalf("second Pull = %q, %v", dir2, err)
	}
	if g := gets(s); len(g) != 0 {
		t.Errorf("second pull downloaded %v", g)
	}

	// Resolve finds what Pull fetched.
	t.Setenv("HF_HUB_CACHE", opts.CacheDir)
	if got, err := Resolve(repoID); err != nil || got != dir {
		t.Errorf("Resolve(%q) = %q, %v; want %q", repoID, got, err, dir)
	}
}

// TestPullReusesBlobs pulls into a cache where another tool already stored the blobs: only
// metadata is fetched, and the new snapshot points at the existing blobs.
func TestPullReusesBlobs(t *testing.T) {
	s, opts, commit := newHub(t)
	files := minitronFiles()
	blobs := filepath.Join(opts.CacheDir, "models--nvidia--Minitron-4B-Base", "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range minitronWanted {
		if err := os.WriteFile(filepath.Join(blobs, hubtest.ETag(name, files[name])), files[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var reports []Progress
	opts.Progress = func(p Progress) { reports = append(reports, p) }
	dir, err := Pull(context.Background(), repoID, commit, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, files, minitronWanted)
	if g := gets(s); len(g) != 0 {
		t.Errorf("downloaded %v although the blobs were cached", g)
	}
	if len(reports) != len(minitronWanted) {
		t.Errorf("got %d progress reports, want one per file: %+v", len(reports), reports)
	}
	for _, r := range reports {
		if !r.Cached || !r.Complete || r.Count != len(minitronWanted) {
			t.Errorf("report %+v, want a cached, complete file", r)
		}
	}
	if got := readRef(t, opts, repoID, commit); got != "" {
		t.Errorf("a ref was written for a commit revision: %q", got)
	}
}

func TestPullRevisions(t *testing.T) {
	isolateEnv(t)
	s := hubtest.New(t)
	tagged := "1111111111111111111111111111111111111111"
	commit := s.AddRepo(hubtest.Repo{ID: repoID, Files: minitronFiles(), Refs: map[string]string{
		"v1.0": tagged, "refs/pr/1": tagged,
	}})
	tests := []struct {
		rev        string
		wantCommit string
		wantRef    bool
	}{
		{"", commit, true},
		{"v1.0", tagged, true},
		{"refs/pr/1", tagged, true},
		{commit, commit, false},
	}
	for _, tt := range tests {
		t.Run(tt.rev, func(t *testing.T) {
			opts := Options{Endpoint: s.URL(), CacheDir: t.TempDir(), RetryDelay: time.Millisecond}
			dir, err := Pull(context.Background(), repoID, tt.rev, opts)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(dir) != tt.wantCommit {
				t.Errorf("snapshot %s, want commit %s", dir, tt.wantCommit)
			}
			rev := tt.rev
			if rev == "" {
				rev = "main"
			}
			if got := readRef(t, opts, repoID, rev); (got == tt.wantCommit) != tt.wantRef {
				t.Errorf("refs/%s = %q", rev, got)
			}
			// The same revision, given as part of the id.
			if dir2, err := Pull(context.Background(), repoID+"@"+rev, "", opts); err != nil || dir2 != dir {
				t.Errorf("Pull(%s@%s) = %q, %v", repoID, rev, dir2, err)
			}
		})
	}
}

// TestPullConcurrent runs several pulls of one model into one cache at once: the blob locks
// and atomic renames must leave one correct snapshot.
func TestPullConcurrent(t *testing.T) {
	s, opts, _ := newHub(t)
	s.DropAfter(shard1, 5000, 1)
	const n = 4
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = Pull(context.Background(), repoID, "", opts) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("pull %d = %q, %v", i, dirs[i], errs[i])
		}
	}
	checkSnapshot(t, dirs[0], minitronFiles(), minitronWanted)
	fetched := map[string]int{}
	for _, r := range gets(s) {
		if r.Range == "" {
			fetched[r.Path]++
		}
	}
	for path, k := range fetched {
		if k > 1 {
			t.Errorf("%s downloaded %d times", path, k)
		}
	}
}

func TestPullFollowsRename(t *testing.T) {
	s, opts, commit := newHub(t)
	s.Rename("nvidia/Old-Name", repoID)
	dir, err := Pull(context.Background(), "nvidia/Old-Name", "", opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(opts.CacheDir, "models--nvidia--Old-Name", "snapshots", commit); dir != want {
		t.Errorf("Pull = %q, want %q", dir, want)
	}
	checkSnapshot(t, dir, minitronFiles(), minitronWanted)
}

// TestPullResume starts from a partial .incomplete file, as an interrupted run (of this
// package or of huggingface_hub) leaves it, with servers that honour or ignore Range.
func TestPullResume(t *testing.T) {
	for _, ignoreRange := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignoreRange=%v", ignoreRange), func(t *testing.T) {
			s, opts, _ := newHub(t)
			s.IgnoreRange(ignoreRange)
			files := minitronFiles()
			blobs := filepath.Join(opts.CacheDir, "models--nvidia--Minitron-4B-Base", "blobs")
			if err := os.MkdirAll(blobs, 0o755); err != nil {
				t.Fatal(err)
			}
			partial := filepath.Join(blobs, hubtest.SHA256(files[shard1])+".incomplete")
			if err := os.WriteFile(partial, files[shard1][:123_456], 0o644); err != nil {
				t.Fatal(err)
			}
			var first Progress
			opts.Progress = func(p Progress) {
				if p.File == shard1 && first.File == "" {
					first = p
				}
			}
			dir, err := Pull(context.Background(), repoID, "", opts)
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, dir, files, minitronWanted)
			if first.Done != 123_456 || first.Total != int64(len(files[shard1])) {
				t.Errorf("first report for %s: %+v, want Done 123456 of %d", shard1, first, len(files[shard1]))
			}
			var ranges []string
			for _, r := range gets(s) {
				if r.Range != "" {
					ranges = append(ranges, r.Range)
				}
			}
			if want := []string{"bytes=123456-"}; !slices.Equal(ranges, want) {
				t.Errorf("Range headers sent: %q, want %q", ranges, want)
			}
		})
	}
}

func TestPullDroppedConnection(t *testing.T) {
	s, opts, _ := newHub(t)
	s.DropAfter(shard2, 70_000, 2)
	s.DropAfter("config.json", 10, 1)
	dir, err := Pull(context.Background(), repoID, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, minitronFiles(), minitronWanted)
	var ranges []string
	for _, r := range gets(s) {
		if r.Range != "" {
			ranges = append(ranges, filepath.Base(r.Path)+" "+r.Range)
		}
	}
	want := []string{
		"config.json bytes=10-",
		hubtest.SHA256(minitronFiles()[shard2]) + " bytes=70000-",
		hubtest.SHA256(minitronFiles()[shard2]) + " bytes=140000-",
	}
	if !slices.Equal(ranges, want) {
		t.Errorf("resumed with %q, want %q", ranges, want)
	}
}

func TestPullStalledBody(t *testing.T) {
	s, opts, _ := newHub(t)
	opts.StallTimeout = 50 * time.Millisecond
	s.StallAfter(shard1, 1000, 1)
	dir, err := Pull(context.Background(), repoID, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, minitronFiles(), minitronWanted)
	var ranges []string
	for _, r := range gets(s) {
		if r.Range != "" {
			ranges = append(ranges, r.Range)
		}
	}
	if want := []string{"bytes=1000-"}; !slices.Equal(ranges, want) {
		t.Errorf("resumed with %q, want %q", ranges, want)
	}
}

func TestPullTransientErrors(t *testing.T) {
	s, opts, _ := newHub(t)
	s.FailNext("api", 2)
	s.FailNext("config.json", 3)
	s.FailNext(shard1, 2)
	dir, err := Pull(context.Background(), repoID, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, minitronFiles(), minitronWanted)

	// Retries are bounded.
	s.ResetLog()
	s.FailNext("api", 100)
	_, err = Pull(context.Background(), repoID, "", opts)
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("Pull with a failing Hub: err = %v, want HTTP 500", err)
	}
	if n := len(s.Requests()); n != opts.Retries+1 {
		t.Errorf("%d requests: retries are not bounded", n)
	}
}

func TestPullErrors(t *testing.T) {
	const token = "hf_gatedTokenValue123"
	isolateEnv(t)
	s := hubtest.New(t)
	s.AddRepo(hubtest.Repo{ID: repoID, Files: minitronFiles()})
	s.AddRepo(hubtest.Repo{ID: "nvidia/Gated", Files: minitronFiles(), Gated: true, Token: token})
	s.AddRepo(hubtest.Repo{ID: "nvidia/NoConfig", Files: map[string][]byte{"model.safetensors": []byte("x")}})
	s.AddRepo(hubtest.Repo{ID: "nvidia/NoWeights", Files: map[string][]byte{"config.json": []byte("{}")}})
	tests := []struct {
		name      string
		repo, rev string
		token     string
		is        error
		has       []string
	}{
		{name: "unknown repo", repo: "nvidia/Nope", is: ErrNotFound, has: []string{"repository or revision not found", "HF_TOKEN"}},
		{name: "unknown repo with token", repo: "nvidia/Nope", token: "hf_x", is: ErrNotFound, has: []string{"repository or revision not found", "404"}},
		{name: "unknown revision", repo: repoID, rev: "v9", is: ErrNotFound, has: []string{"repository or revision not found"}},
		{name: "gated without token", repo: "nvidia/Gated", is: ErrAccess, has: []string{"401", "HF_TOKEN", "gated", s.URL() + "/nvidia/Gated"}},
		{name: "gated with wrong token", repo: "nvidia/Gated", token: "hf_wrong", is: ErrAccess, has: []string{"403", "HF_TOKEN", "access"}},
		{name: "no config", repo: "nvidia/NoConfig", has: []string{"config.json"}},
		{name: "no weights", repo: "nvidia/NoWeights", has: []string{"no weights"}},
		{name: "bad id", repo: "nvidia", has: []string{"ORG/NAME"}},
		{name: "conflicting revisions", repo: repoID + "@a", rev: "b", has: []string{`"a"`, `"b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Endpoint: s.URL(), CacheDir: t.TempDir(), Token: tt.token, RetryDelay: time.Millisecond}
			_, err := Pull(context.Background(), tt.repo, tt.rev, opts)
			if err == nil {
				t.Fatal("Pull succeeded")
			}
			t.Log(err)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			for _, h := range tt.has {
				if !strings.Contains(err.Error(), h) {
					t.Errorf("error %q does not mention %q", err, h)
				}
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error shows the token: %q", err)
			}
		})
	}
}

// TestPullGatedWithToken checks that the token reaches the Hub and never the CDN.
func TestPullGatedWithToken(t *testing.T) {
	const token = "hf_gatedTokenValue123"
	isolateEnv(t)
	t.Setenv("HF_TOKEN", token)
	s := hubtest.New(t)
	s.AddRepo(hubtest.Repo{ID: repoID, Files: minitronFiles(), Gated: true, Token: token})
	opts := Options{Endpoint: s.URL(), CacheDir: t.TempDir(), RetryDelay: time.Millisecond}
	dir, err := Pull(context.Background(), repoID, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, minitronFiles(), minitronWanted)
	cdn := 0
	for _, r := range s.Requests() {
		switch {
		case r.Server == "hub" && r.Auth != "Bearer "+token:
			t.Errorf("%s %s reached the Hub with Authorization %q", r.Method, r.Path, r.Auth)
		case r.Server == "cdn" && r.Auth != "":
			t.Errorf("%s %s reached the CDN with Authorization %q", r.Method, r.Path, r.Auth)
		case r.Server == "cdn":
			cdn++
		}
	}
	if cdn == 0 {
		t.Error("nothing was fetched from the CDN")
	}
}

// TestPullNeverShowsToken makes a Hub echo the token into redirect URLs that then fail, and
// checks that neither errors nor progress reports carry it.
func TestPullNeverShowsToken(t *testing.T) {
	const token = "hf_SuperSecretToken987"
	locations := map[string]func(string) string{
		"unreachable host, token in path and query": func(string) string {
			return "http://127.0.0.1:1/" + token + "/blob?token=" + token
		},
		"malformed URL": func(string) string { return "http://[::1%zz]/" + token },
		"CDN 404":       func(loc string) string { return strings.Replace(loc, "/lfs/", "/lfs/"+token, 1) },
	}
	for name, loc := range locations {
		t.Run(name, func(t *testing.T) {
			isolateEnv(t)
			t.Setenv("HF_TOKEN", token)
			s := hubtest.New(t)
			s.AddRepo(hubtest.Repo{ID: repoID, Files: minitronFiles(), Gated: true, Token: token})
			s.LFSLocation = func(_ *http.Request, l string) string { return loc(l) }
			var mu sync.Mutex
			var shown strings.Builder
			opts := Options{Endpoint: s.URL(), CacheDir: t.TempDir(), RetryDelay: time.Millisecond, Retries: 1,
				Progress: func(p Progress) { mu.Lock(); fmt.Fprintf(&shown, "%+v\n", p); mu.Unlock() }}
			_, err := Pull(context.Background(), repoID, "", opts)
			if err == nil {
				t.Fatal("Pull succeeded")
			}
			t.Log(err)
			if strings.Contains(err.Error(), token) || strings.Contains(shown.String(), token) {
				t.Errorf("token shown: error %q, progress %q", err, shown.String())
			}
			if !strings.Contains(err.Error(), "tokenizer.model") && !strings.Contains(err.Error(), "safetensors") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestPullChecksumMismatch(t *testing.T) {
	s, opts, commit := newHub(t)
	s.Corrupt(shard2, true)
	_, err := Pull(context.Background(), repoID, "", opts)
	if err == nil {
		t.Fatal("Pull accepted a corrupt file")
	}
	if !strings.Contains(err.Error(), shard2) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("error %q does not name the file and the checksum", err)
	}
	repo := filepath.Join(opts.CacheDir, "models--nvidia--Minitron-4B-Base")
	sha := hubtest.SHA256(minitronFiles()[shard2])
	for _, p := range []string{
		filepath.Join(repo, "blobs", sha),
		filepath.Join(repo, "blobs", sha+".incomplete"),
		filepath.Join(repo, "snapshots", commit, shard2),
		filepath.Join(repo, "refs", "main"),
	} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists after a failed download", p)
		}
	}
	// Once the Hub serves the right bytes, a new pull completes.
	s.Corrupt(shard2, false)
	dir, err := Pull(context.Background(), repoID, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, minitronFiles(), minitronWanted)
}

func TestPullCancel(t *testing.T) {
	s, opts, _ := newHub(t)
	big := pseudoRandom(8<<20, 9)
	files := minitronFiles()
	files[shard1] = big
	s.AddRepo(hubtest.Repo{ID: repoID, Files: files})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts.ProgressInterval = time.Nanosecond
	opts.Progress = func(p Progress) {
		if p.File == shard1 && p.Done > 0 {
			cancel()
		}
	}
	_, err := Pull(ctx, repoID, "", opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Pull = %v, want context.Canceled", err)
	}
	partial := filepath.Join(opts.CacheDir, "models--nvidia--Minitron-4B-Base", "blobs", hubtest.SHA256(big)+".incomplete")
	st, err := os.Stat(partial)
	if err != nil {
		t.Fatalf("no partial file kept for resuming: %v", err)
	}
	if st.Size() == 0 || st.Size() >= int64(len(big)) {
		t.Logf("partial file has %d of %d bytes", st.Size(), len(big))
	}

	s.ResetLog()
	opts.Progress = nil
	dir, err := Pull(context.Background(), repoID, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, files, minitronWanted)
	for _, r := range gets(s) {
		if r.Server == "cdn" && strings.HasSuffix(r.Path, hubtest.SHA256(big)) && r.Range != fmt.Sprintf("bytes=%d-", st.Size()) && st.Size() > 0 {
			t.Errorf("resumed %s with Range %q, want from %d", shard1, r.Range, st.Size())
		}
	}
}

func TestPullOffline(t *testing.T) {
	s, opts, _ := newHub(t)
	t.Setenv("HF_HUB_OFFLINE", "1")
	if _, err := Pull(context.Background(), repoID, "", opts); err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("offline Pull of an uncached model: err = %v", err)
	}
	t.Setenv("HF_HUB_OFFLINE", "")
	dir, err := Pull(context.Background(), repoID, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	s.ResetLog()
	t.Setenv("HF_HUB_OFFLINE", "1")
	if got, err := Pull(context.Background(), repoID, "", opts); err != nil || got != dir {
		t.Errorf("offline Pull = %q, %v; want %q", got, err, dir)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("offline Pull made %d requests", n)
	}
}

func TestProgressThrottled(t *testing.T) {
	s, opts, _ := newHub(t)
	files := minitronFiles()
	files[shard1] = pseudoRandom(4<<20, 7)
	s.AddRepo(hubtest.Repo{ID: repoID, Files: files})
	opts.ProgressInterval = time.Hour
	var got []Progress
	opts.Progress = func(p Progress) {
		if p.File == shard1 {
			got = append(got, p)
		}
	}
	if _, err := Pull(context.Background(), repoID, "", opts); err != nil {
		t.Fatal(err)
	}
	size := int64(len(files[shard1]))
	want := []Progress{
		{File: shard1, Index: 3, Count: 8, Done: 0, Total: size},
		{File: shard1, Index: 3, Count: 8, Done: size, Total: size, Complete: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("progress reports:\n got %+v\nwant %+v", got, want)
	}
}

func TestWantedFiles(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{
			name:  "safetensors shards win over bin",
			files: []string{"config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model.bin.index.json", "model-00001-of-00002.safetensors", "model.safetensors.index.json"},
			want:  []string{"config.json", "model-00001-of-00002.safetensors", "model.safetensors.index.json"},
		},
		{
			name:  "bin only",
			files: []string{"config.json", "pytorch_model.bin", "tokenizer.model", "README.md"},
			want:  []string{"config.json", "pytorch_model.bin", "tokenizer.model"},
		},
		{
			name:  "bin shards only",
			files: []string{"config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json"},
			want:  []string{"config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json"},
		},
		{
			name:  "sub-folders and other formats skipped",
			files: []string{"config.json", "model.safetensors", "onnx/model.safetensors", "nemo/x.nemo", "tf_model.h5", "flax_model.msgpack", ".gitattributes", "tokenizer.json", "special_tokens_map.json", "generation_config.json", "tokenizer_config.json"},
			want:  []string{"config.json", "model.safetensors", "tokenizer.json", "special_tokens_map.json", "generation_config.json", "tokenizer_config.json"},
		},
	}
	for _, tt := range tests {
		if got := WantedFiles(tt.files); !slices.Equal(got, tt.want) {
			t.Errorf("%s: WantedFiles = %q, want %q", tt.name, got, tt.want)
		}
	}
}
