package hub

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

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
