package hub

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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

func (p *puller) report(pr Progress) {
	if p.opts.Progress != nil {
		p.opts.Progress(pr)
	}
}
