package hub

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub used when neither Options.Endpoint nor $HF_ENDPOINT is set.
const DefaultEndpoint = "https://huggingface.co"

// Options configures Pull. The zero value reads everything from the environment as
// huggingface_hub does.
type Options struct {
	Endpoint string       // default $HF_ENDPOINT, else DefaultEndpoint
	CacheDir string       // default CacheDir()
	Token    string       // default Token(); sent only to the endpoint's host
	Client   *http.Client // its Transport, Jar and Timeout are used; default http.DefaultTransport

	// Progress, if set, is called as files are fetched: once when a file starts, at most
	// every ProgressInterval (default 250 ms) while it downloads, and once when it is done.
	Progress         func(Progress)
	ProgressInterval time.Duration

	Retries      int           // attempts after the first for one request or file; default 5
	RetryDelay   time.Duration // first backoff, doubling each retry; default 1 s
	StallTimeout time.Duration // give up on (and retry) a body with no bytes for this long; default 60 s
}

// Progress reports on one file of a Pull.
type Progress struct {
	File         string // name within the repository
	Index, Count int    // this is file Index (from 1) of Count
	Done         int64  // bytes in the cache so far, including those of an earlier, interrupted run
	Total        int64  // file size, -1 if unknown
	Cached       bool   // the file was already in the cache; nothing was fetched
	Complete     bool   // last report for this file
}

func (o *Options) fill() {
	if o.Endpoint == "" {
		o.Endpoint = os.Getenv("HF_ENDPOINT")
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	if o.CacheDir == "" {
		o.CacheDir = CacheDir()
	}
	if o.Token == "" {
		o.Token = Token()
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 250 * time.Millisecond
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 60 * time.Second
	}
}

// Pull downloads the files inference needs (see WantedFiles) of the model repository repo
// ("ORG/NAME") at revision rev ("" means main; repo may also carry "@REV") into the Hugging
// Face cache, and returns the snapshot directory. Files already in the cache, whoever fetched
// them, are not fetched again; an interrupted download resumes where it stopped. refs/REV is
// written last, so Resolve finds a snapshot only once it is complete.
//
// With $HF_HUB_OFFLINE set, Pull makes no request and returns the cached snapshot, if any.
func Pull(ctx context.Context, repo, rev string, opts Options) (string, error) {
	id, err := ParseID(repo)
	if err != nil {
		return "", err
	}
	if rev != "" {
		if err := checkRevision(rev); err != nil {
			return "", err
		}
		if id.Revision != "" && id.Revision != rev {
			return "", fmt.Errorf("model id %q names revision %q but %q was asked for", repo, id.Revision, rev)
		}
		id.Revision = rev
	}
	opts.fill()
	if isTrue(os.Getenv("HF_HUB_OFFLINE")) {
		dir, err := Snapshot(opts.CacheDir, id)
		if err != nil {
			return "", fmt.Errorf("HF_HUB_OFFLINE is set, so nothing can be downloaded: %w", err)
		}
		return dir, nil
	}
	p := &puller{opts: opts, id: id, repoDir: filepath.Join(opts.CacheDir, id.folder())}
	p.c, err = newClient(&p.opts, opts.Endpoint, id.Repo, opts.Token)
	if err != nil {
		return "", err
	}
	dir, err := p.pull(ctx)
	return dir, redact(err, opts.Token)
}

func isTrue(v string) bool {
	switch strings.ToUpper(v) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

type puller struct {
	opts    Options
	id      ID
	repoDir string // <cache>/models--ORG--NAME
	c       *client
}

func (p *puller) pull(ctx context.Context) (string, error) {
	commit, files, err := p.list(ctx)
	if err != nil {
		return "", err
	}
	want := WantedFiles(files)
	if !contains(want, "config.json") {
		return "", fmt.Errorf("%s@%s has no config.json: not a transformers model", p.id.Repo, commit)
	}
	if !hasWeights(want) {
		return "", fmt.Errorf("%s@%s has no weights (*.safetensors or pytorch_model*.bin)", p.id.Repo, commit)
	}
	snap := filepath.Join(p.repoDir, "snapshots", commit)
	for i, name := range want {
		if err := p.file(ctx, commit, name, i+1, len(want)); err != nil {
			return "", err
		}
	}
	if rev := p.id.rev(); rev != commit {
		if err := writeRef(filepath.Join(p.repoDir, "refs", filepath.FromSlash(rev)), commit); err != nil {
			return "", err
		}
	}
	return snap, nil
}

// repoInfo is the part of GET /api/models/{repo}/revision/{rev} (huggingface_hub's
// HfApi.model_info) that Pull uses.
type repoInfo struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
}

// list resolves the revision to a commit and lists the repository's files at it.
func (p *puller) list(ctx context.Context) (commit string, files []string, err error) {
	u := p.opts.Endpoint + "/api/models/" + p.id.Repo + "/revision/" + url.PathEscape(p.id.rev())
	op := "list files of " + p.id.String()
	resp, err := p.c.do(ctx, p.c.http, op, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	})
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, p.c.statusError(op, resp)
	}
	var info repoInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		return "", nil, fmt.Errorf("%s: bad answer from %s: %v", op, p.opts.Endpoint, err)
	}
	if !isCommit(info.SHA) {
		return "", nil, fmt.Errorf("%s: the Hub gave %q as the commit, not a commit hash", op, info.SHA)
	}
	for _, s := range info.Siblings {
		files = append(files, s.RFilename)
	}
	return info.SHA, files, nil
}

// wanted lists the top-level files inference needs. Patterns are matched with path.Match, so
// '*' stays within the top directory: sub-folders (onnx/, nemo/, original/) are skipped.
var wanted = []string{
	"config.json",
	"generation_config.json",
	"tokenizer.model",
	"tokenizer_config.json",
	"tokenizer.json",
	"special_tokens_map.json",
	"*.safetensors",
	"model.safetensors.index.json",
	"pytorch_model.bin",
	"pytorch_model-*.bin",
	"pytorch_model.bin.index.json",
}

// WantedFiles returns, in order, the files of a repository that Pull fetches: configuration,
// tokenizer and weights. When safetensors weights exist the PyTorch .bin weights (and their
// index) are left out, as transformers does when it loads the model.
func WantedFiles(files []string) []string {
	safetensors := false
	for _, f := range files {
		if m, _ := path.Match("*.safetensors", f); m {
			safetensors = true
		}
	}
	var out []string
	for _, f := range files {
		if safetensors && isPyTorchWeights(f) {
			continue
		}
		for _, pat := range wanted {
			if m, _ := path.Match(pat, f); m {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

func isPyTorchWeights(f string) bool {
	m, _ := path.Match("pytorch_model-*.bin", f)
	return m || f == "pytorch_model.bin" || f == "pytorch_model.bin.index.json"
}

func hasWeights(files []string) bool {
	for _, f := range files {
		if m, _ := path.Match("*.safetensors", f); m || isPyTorchWeights(f) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fileMeta is what a HEAD request on a file's resolve URL says about it (huggingface_hub's
// get_hf_file_metadata).
type fileMeta struct {
	etag     string // blob name: git sha1, or sha256 for LFS files
	size     int64  // -1 if unknown
	location string // where to GET it: the CDN URL for LFS files
}

// sha256Hex matches an LFS ETag, which is the file's sha256.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// safeBlobName matches ETags usable as file names; the Hub's are all hex.
var safeBlobName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$`)

// file puts one file of the snapshot in place.
func (p *puller) file(ctx context.Context, commit, name string, index, count int) error {
	pointer := filepath.Join(p.repoDir, "snapshots", commit, filepath.FromSlash(name))
	// A snapshot entry that resolves is already complete: blobs are only ever renamed into
	// place whole. huggingface_hub takes the same shortcut for commit revisions.
	if st, err := os.Stat(pointer); err == nil && st.Mode().IsRegular() {
		p.report(Progress{File: name, Index: index, Count: count, Done: st.Size(), Total: st.Size(), Cached: true, Complete: true})
		return nil
	}
	meta, err := p.head(ctx, commit, name)
	if err != nil {
		return err
	}
	blob := filepath.Join(p.repoDir, "blobs", meta.etag)
	if p.haveBlob(blob, meta.size) {
		p.report(Progress{File: name, Index: index, Count: count, Done: meta.size, Total: meta.size, Cached: true, Complete: true})
		return link(blob, pointer)
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return err
	}
	// The lock is where huggingface_hub puts its own, so the two never write one blob at once.
	unlock, err := lockFile(ctx, filepath.Join(p.opts.CacheDir, ".locks", p.id.folder(), meta.etag+".lock"))
	if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer unlock()
	if !p.haveBlob(blob, meta.size) { // another process may have fetched it while we waited
		if err := p.download(ctx, name, meta, blob, index, count); err != nil {
			return err
		}
	}
	return link(blob, pointer)
}

// haveBlob reports whether blob is in the cache with the expected size (when known). A blob
// of the wrong size was not written by a download that completed, so it is removed.
func (p *puller) haveBlob(blob string, size int64) bool {
	st, err := os.Stat(blob)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	if size >= 0 && st.Size() != size {
		os.Remove(blob)
		return false
	}
	return true
}

func (p *puller) resolveURL(commit, name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return p.opts.Endpoint + "/" + p.id.Repo + "/resolve/" + commit + "/" + strings.Join(segs, "/")
}

// head fetches a file's metadata without following a redirect to the CDN, because the
// X-Linked-* headers that describe an LFS file are on the redirect itself. Redirects within
// the Hub (a renamed repository, the Hub's resolve cache) are followed, as huggingface_hub
// follows relative ones.
func (p *puller) head(ctx context.Context, commit, name string) (fileMeta, error) {
	u := p.resolveURL(commit, name)
	op := "fetch metadata of " + name
	for hops := 0; ; hops++ {
		resp, err := p.c.do(ctx, p.c.noRedirect, op, func() (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		})
		if err != nil {
			return fileMeta{}, err
		}
		resp.Body.Close()
		meta := fileMeta{location: u, size: -1}
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return fileMeta{}, fmt.Errorf("%s: redirect without a usable Location", op)
			}
			if p.c.onHub(loc) && hops < 10 {
				u = loc.String()
				continue
			}
			meta.location = loc.String()
		case resp.StatusCode == http.StatusOK:
			meta.size = resp.ContentLength
		default:
			return fileMeta{}, p.c.statusError(op, resp)
		}
		etag := resp.Header.Get("X-Linked-Etag")
		if etag == "" {
			etag = resp.Header.Get("ETag")
		}
		meta.etag = normalizeETag(etag)
		if s, err := strconv.ParseInt(resp.Header.Get("X-Linked-Size"), 10, 64); err == nil && s >= 0 {
			meta.size = s
		}
		if meta.etag == "" {
			return fileMeta{}, fmt.Errorf("%s: the Hub sent no ETag, so the file cannot be cached", op)
		}
		if !safeBlobName.MatchString(meta.etag) {
			return fileMeta{}, fmt.Errorf("%s: unexpected ETag %q", op, meta.etag)
		}
		return meta, nil
	}
}

// normalizeETag strips the quotes and weak marker of an ETag header (huggingface_hub's
// _normalize_etag).
func normalizeETag(etag string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(etag), "W/"), `"`)
}

// download fetches a file into blob by way of blob.incomplete, which is kept across runs and
// resumed with a Range request, as huggingface_hub does.
func (p *puller) download(ctx context.Context, name string, meta fileMeta, blob string, index, count int) error {
	incomplete := blob + ".incomplete"
	f, err := os.OpenFile(incomplete, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()

	d := &transfer{
		p: p, f: f, name: name, meta: meta,
		prog: Progress{File: name, Index: index, Count: count, Total: meta.size},
	}
	// LFS files are named by their sha256, so the download can be checked end to end; the
	// bytes of an earlier run are hashed first so the digest covers the whole file.
	if sha256Hex.MatchString(meta.etag) {
		d.hash = sha256.New()
	}
	if err := d.loadPartial(); err != nil {
		return err
	}
	p.report(d.prog)
	d.lastReport = time.Now()

	failures := 0
	for !d.done {
		before := d.prog.Done
		err := d.fetch(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		// A connection that delivered bytes before it dropped earns a fresh set of retries:
		// the file is finite, so this still ends.
		if d.prog.Done > before {
			failures = 0
		}
		if failures >= p.opts.Retries {
			return fmt.Errorf("download %s: giving up after %d attempts: %w", name, failures+1, err)
		}
		if err := p.c.sleep(ctx, failures); err != nil {
			return err
		}
		failures++
	}

	if meta.size >= 0 && d.prog.Done != meta.size {
		os.Remove(incomplete)
		return fmt.Errorf("download %s: got %d bytes, the Hub said %d", name, d.prog.Done, meta.size)
	}
	if d.hash != nil {
		if got := hex.EncodeToString(d.hash.Sum(nil)); got != meta.etag {
			// The bytes are wrong, not short: resuming from them would only repeat the error.
			f.Close()
			os.Remove(incomplete)
			return fmt.Errorf("download %s: checksum mismatch: sha256 %s, want %s", name, got, meta.etag)
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(incomplete, blob); err != nil {
		return err
	}
	syncDir(filepath.Dir(blob))
	d.prog.Total = d.prog.Done
	d.prog.Complete = true
	p.report(d.prog)
	return nil
}

// transfer is the state of one file's download across its attempts.
type transfer struct {
	p          *puller
	f          *os.File
	name       string
	meta       fileMeta
	hash       hash.Hash // nil when the ETag is not a sha256
	prog       Progress
	lastReport time.Time
	done       bool
}

// permanentError marks a download failure that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }

// loadPartial takes up what an interrupted run left in the .incomplete file.
func (d *transfer) loadPartial() error {
	var n int64
	var err error
	if d.hash != nil {
		n, err = io.Copy(d.hash, d.f)
	} else {
		n, err = d.f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		return err
	}
	if d.meta.size >= 0 && n > d.meta.size {
		return d.restart()
	}
	d.prog.Done = n
	return nil
}

// restart throws away the partial file.
func (d *transfer) restart() error {
	if err := d.f.Truncate(0); err != nil {
		return err
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if d.hash != nil {
		d.hash.Reset()
	}
	d.prog.Done = 0
	return nil
}

// fetch makes one GET for the rest of the file and appends what arrives. It returns nil once
// the file is whole (d.done) or when a retry should start at once; an error to retry after a
// pause; or a permanentError.
func (d *transfer) fetch(ctx context.Context) error {
	if d.meta.size >= 0 && d.prog.Done == d.meta.size {
		d.done = true
		return nil
	}
	// Each attempt gets its own context so that a stalled body can be abandoned and retried
	// without cancelling the whole pull.
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	stall := time.AfterFunc(d.p.opts.StallTimeout, cancel)
	defer stall.Stop()

	op := "download " + d.name
	offset := d.prog.Done
	resp, err := d.p.c.do(actx, d.p.c.http, op, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(actx, http.MethodGet, d.meta.location, nil)
		if err == nil && offset > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
		return req, err
	})
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			return fmt.Errorf("%s: no data for %v", op, d.p.opts.StallTimeout)
		}
		// do has already retried; more attempts here would multiply them.
		return permanentError{err}
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if offset > 0 { // the server ignored Range: start over
			if err := d.restart(); err != nil {
				return permanentError{err}
			}
		}
	case http.StatusPartialContent:
		start, _, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			if err := d.restart(); err != nil {
				return permanentError{err}
			}
			return fmt.Errorf("%s: asked for bytes from %d, got Content-Range %q", op, offset, resp.Header.Get("Content-Range"))
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// The partial file is not a prefix of this file; start again from nothing.
		if err := d.restart(); err != nil {
			return permanentError{err}
		}
		return nil
	default:
		return permanentError{d.p.c.statusError(op, resp)}
	}

	buf := make([]byte, 1<<20)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			stall.Reset(d.p.opts.StallTimeout)
			if _, err := d.f.Write(buf[:n]); err != nil {
				return permanentError{fmt.Errorf("%s: %w", op, err)}
			}
			if d.hash != nil {
				d.hash.Write(buf[:n])
			}
			d.prog.Done += int64(n)
			if d.meta.size >= 0 && d.prog.Done > d.meta.size {
				return d.overrun(op)
			}
			if now := time.Now(); now.Sub(d.lastReport) >= d.p.opts.ProgressInterval {
				d.lastReport = now
				d.p.report(d.prog)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if actx.Err() != nil {
				return fmt.Errorf("%s: no data for %v", op, d.p.opts.StallTimeout)
			}
			return fmt.Errorf("%s: connection lost after %d bytes: %w", op, d.prog.Done, cleanURLError(rerr))
		}
	}
	if d.meta.size >= 0 && d.prog.Done < d.meta.size {
		return fmt.Errorf("%s: body ended at %d of %d bytes", op, d.prog.Done, d.meta.size)
	}
	d.done = true
	return nil
}

// overrun handles a body longer than the Hub announced: the file is not the one expected.
func (d *transfer) overrun(op string) error {
	d.f.Close()
	os.Remove(d.f.Name())
	return permanentError{fmt.Errorf("%s: more bytes than the %d the Hub announced", op, d.meta.size)}
}

func (p *puller) report(pr Progress) {
	if p.opts.Progress != nil {
		p.opts.Progress(pr)
	}
}

// link points a snapshot entry at its blob with a relative symlink, as huggingface_hub's
// _create_symlink does, so the cache still works when moved. It replaces the entry atomically.
// Where symlinks are not allowed it falls back to a copy, as huggingface_hub does.
func link(blob, pointer string) error {
	dir := filepath.Dir(pointer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, blob)
	if err != nil {
		rel = blob
	}
	tmp := pointer + ".tmp" + randSuffix()
	if err := os.Symlink(rel, tmp); err != nil {
		if err := copyFile(blob, tmp); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}

// writeRef records the commit a revision resolved to, replacing the file atomically and only
// when it changed (huggingface_hub avoids the write too, for read-only caches).
func writeRef(ref, commit string) error {
	if b, err := os.ReadFile(ref); err == nil && strings.TrimSpace(string(b)) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
		return err
	}
	tmp := ref + ".tmp" + randSuffix()
	if err := os.WriteFile(tmp, []byte(commit), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, ref); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func randSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
