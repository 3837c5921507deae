package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

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
