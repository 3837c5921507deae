package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors that Pull's errors match with errors.Is.
var (
	// ErrNotFound: the repository, revision or file does not exist, or is private and the
	// token (if any) cannot see it; the Hub does not tell these apart.
	ErrNotFound = errors.New("repository or revision not found")
	// ErrAccess: the Hub wants a token (401) or refuses the one given (403), as for gated models.
	ErrAccess = errors.New("access denied")
)

// StatusError is an HTTP error answer from the Hub or its CDN.
type StatusError struct {
	Op        string // what was being done: "list files", "fetch metadata for config.json", …
	URL       string // without query, which on the CDN carries a signature
	Code      int
	ErrorCode string // the Hub's X-Error-Code header: RepoNotFound, GatedRepo, …
	Hint      string // what to do about it
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: %s: HTTP %d %s", e.Op, e.URL, e.Code, http.StatusText(e.Code))
	if e.ErrorCode != "" {
		msg += " (" + e.ErrorCode + ")"
	}
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// Is makes errors.Is(err, ErrNotFound) and errors.Is(err, ErrAccess) work.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound || e.ErrorCode == "RepoNotFound" ||
			e.ErrorCode == "RevisionNotFound" || e.ErrorCode == "EntryNotFound"
	case ErrAccess:
		return !e.Is(ErrNotFound) && (e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden)
	}
	return false
}

// retryableStatus reports whether a request that got this status may succeed if repeated.
func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// client makes the requests of one Pull.
type client struct {
	http       *http.Client // follows redirects: file contents from the CDN
	noRedirect *http.Client // metadata, which comes from the redirect itself
	endpoint   string
	scheme     string // the endpoint's
	host       string // the endpoint's host[:port]
	repo       string
	hasToken   bool
	retries    int
	retryDelay time.Duration
}

// authTransport adds the token to requests for the Hub's own scheme and host only. Doing this
// per request, rather than once on the first, keeps the token from following a redirect to the
// CDN: net/http keeps Authorization for redirects to subdomains (huggingface.co →
// cdn-lfs.huggingface.co) and to other ports of the same host, and huggingface_hub drops it for
// any redirect it does not follow itself.
type authTransport struct {
	base   http.RoundTripper
	scheme string
	host   string
	token  string
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.token == "" || req.URL.Scheme != t.scheme || req.URL.Host != t.host {
		if req.Header.Get("Authorization") != "" {
			req = req.Clone(req.Context())
			req.Header.Del("Authorization")
		}
		return t.base.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(req)
}

func newClient(o *Options, endpoint, repo, token string) (*client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("invalid Hub endpoint %q (HF_ENDPOINT): want http(s)://host", endpoint)
	}
	base := http.DefaultTransport
	var jar http.CookieJar
	var timeout time.Duration
	if o.Client != nil {
		if o.Client.Transport != nil {
			base = o.Client.Transport
		}
		jar, timeout = o.Client.Jar, o.Client.Timeout
	}
	rt := &authTransport{base: base, scheme: u.Scheme, host: u.Host, token: token}
	c := &client{
		http:       &http.Client{Transport: rt, Jar: jar, Timeout: timeout},
		noRedirect: &http.Client{Transport: rt, Jar: jar, Timeout: timeout},
		endpoint:   endpoint,
		scheme:     u.Scheme,
		host:       u.Host,
		repo:       repo,
		hasToken:   token != "",
		retries:    o.Retries,
		retryDelay: o.RetryDelay,
	}
	c.noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// onHub reports whether u is on the Hub itself rather than on its CDN.
func (c *client) onHub(u *url.URL) bool {
	return u.Host == c.host && u.Scheme == c.scheme
}

// do sends a request built by newReq, retrying with backoff when the connection fails or the
// server answers 5xx or 429. It returns any other answer for the caller to judge.
func (c *client) do(ctx context.Context, hc *http.Client, op string, newReq func() (*http.Request, error)) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := newReq()
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", userAgent)
		// Sizes and ranges refer to the stored bytes; Go would otherwise ask for gzip.
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := hc.Do(req)
		if err == nil && !retryableStatus(resp.StatusCode) {
			return resp, nil
		}
		if err == nil {
			err = c.statusError(op, resp)
			drain(resp)
		} else {
			err = fmt.Errorf("%s: %w", op, cleanURLError(err))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if attempt >= c.retries {
			return nil, err
		}
		if err := c.sleep(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// sleep waits before retry number attempt+1: retryDelay doubling each time, capped at 30 s.
func (c *client) sleep(ctx context.Context, attempt int) error {
	d := c.retryDelay << min(attempt, 10)
	d = min(d, 30*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// statusError describes a failed answer, with advice for the cases a user can fix.
func (c *client) statusError(op string, resp *http.Response) *StatusError {
	e := &StatusError{
		Op:        op,
		URL:       stripQuery(resp.Request.URL),
		Code:      resp.StatusCode,
		ErrorCode: resp.Header.Get("X-Error-Code"),
	}
	page := strings.TrimSuffix(c.endpoint, "/") + "/" + c.repo
	onHub := c.onHub(resp.Request.URL)
	switch {
	case e.ErrorCode == "EntryNotFound" || (e.Code == http.StatusNotFound && !onHub):
		e.Hint = "file not found"
	case e.Is(ErrNotFound):
		e.Hint = "repository or revision not found"
		if !c.hasToken && e.ErrorCode != "RevisionNotFound" {
			e.Hint += " (if it is private or gated, set HF_TOKEN to an access token that can read it)"
		}
	case e.Code == http.StatusUnauthorized && !c.hasToken:
		e.Hint = "this model needs a Hugging Face access token: it is gated or private. Accept its terms at " +
			page + " and set HF_TOKEN to a token of that account (https://huggingface.co/settings/tokens)"
	case e.Code == http.StatusUnauthorized:
		e.Hint = "the token in HF_TOKEN was rejected; check that it is valid"
	case e.Code == http.StatusForbidden:
		e.Hint = "the token in HF_TOKEN has no access to this model; if it is gated, request access at " + page +
			" with the account the token belongs to"
	}
	return e
}

// cleanURLError drops the query from the URL in a *url.Error: CDN URLs carry signatures that
// only clutter a message.
func cleanURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return &url.Error{Op: ue.Op, URL: stripQuery(u), Err: ue.Err}
		}
		return &url.Error{Op: ue.Op, URL: "(unparsable URL)", Err: ue.Err}
	}
	return err
}

func stripQuery(u *url.URL) string {
	v := *u
	v.RawQuery, v.Fragment, v.User = "", "", nil
	return v.String()
}

// drain reads a little of a body we will not use, so its connection can be reused.
func drain(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

const userAgent = "minitron-hub/1 (Go; compatible huggingface_hub cache)"

// redactedError hides a secret from an error's text. It keeps errors.Is working but offers no
// Unwrap, so the original text cannot be reached through it by accident.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// redact removes every occurrence of secret from err's text. The token is only ever placed in
// a request header, but a server could echo it back into a redirect URL that ends up in a
// *url.Error; this is the last line of defence.
func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), secret, "[HF_TOKEN]"), err: err}
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*", returned as -1).
func parseContentRange(s string) (start, total int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if tot == "*" {
		return start, -1, true
	}
	total, err = strconv.ParseInt(tot, 10, 64)
	return start, total, err == nil
}
