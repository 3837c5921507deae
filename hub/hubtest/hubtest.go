// Package hubtest runs a fake Hugging Face Hub for tests: the model API, file metadata and
// downloads as huggingface.co serves them, with LFS files redirected to a second "CDN" server
// on another host, and knobs for the failures a real download meets (5xx answers, dropped
// connections, servers that ignore Range, corrupt bytes).
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Repo is a model repository on the fake Hub, at a single commit.
type Repo struct {
	ID     string            // "ORG/NAME"
	Commit string            // 40 hex digits; derived from ID when empty
	Refs   map[string]string // further revisions (tags, branches) → commit; "main" is added
	Files  map[string][]byte // name → contents; *.safetensors, *.bin, *.model are LFS files
	Gated  bool              // file downloads need "Authorization: Bearer " + Token
	Token  string
}

// commit resolves a revision: a ref, or a commit that some ref names. (The fake keeps one
// tree, whatever the commit.)
func (r *Repo) commit(rev string) (string, bool) {
	if c, ok := r.Refs[rev]; ok {
		return c, true
	}
	for _, c := range r.Refs {
		if c == rev {
			return c, true
		}
	}
	return "", false
}

// Request is one request as a server saw it.
type Request struct {
	Server string // "hub" or "cdn"
	Method string
	Path   string
	Range  string
	Auth   string // the Authorization header received
}

// Server is a fake Hub and its CDN. Its knobs may be set between requests.
type Server struct {
	Hub *httptest.Server // the endpoint: API and resolve URLs
	CDN *httptest.Server // serves LFS blobs by sha256, on another host name than Hub

	// LFSLocation, if set, rewrites the Location of an LFS redirect (to test what a client
	// does with a misbehaving Hub).
	LFSLocation func(r *http.Request, location string) string

	mu          sync.Mutex
	repos       map[string]*Repo
	renamed     map[string]string
	blobs       map[string]blob // sha256 → contents
	log         []Request
	fail        map[string]int   // file name or "api" → 500s left to send
	drop        map[string]drops // file name → connections to drop mid-body
	stall       map[string]drops // file name → bodies to stop sending mid-way
	corrupt     map[string]bool
	ignoreRange bool
}

type blob struct {
	name string
	data []byte
}

type drops struct {
	after int // bytes of body sent before the connection is closed
	times int
}

// New starts a fake Hub, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{
		repos:   map[string]*Repo{},
		renamed: map[string]string{},
		blobs:   map[string]blob{},
		fail:    map[string]int{},
		drop:    map[string]drops{},
		stall:   map[string]drops{},
		corrupt: map[string]bool{},
	}
	s.Hub = httptest.NewServer(s.logged("hub", http.HandlerFunc(s.route)))
	cdn := http.NewServeMux()
	cdn.HandleFunc("GET /lfs/{sha}", s.cdnBlob)
	// "localhost" rather than 127.0.0.1: a different host name, as cdn-lfs.huggingface.co is
	// to huggingface.co, and not just another port.
	s.CDN = httptest.NewUnstartedServer(s.logged("cdn", cdn))
	s.CDN.Start()
	s.CDN.URL = strings.Replace(s.CDN.URL, "127.0.0.1", "localhost", 1)
	t.Cleanup(s.Hub.Close)
	t.Cleanup(s.CDN.Close)
	return s
}

// URL is the endpoint to give the client (HF_ENDPOINT).
func (s *Server) URL() string { return s.Hub.URL }

// AddRepo publishes r, and returns its commit.
func (s *Server) AddRepo(r Repo) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Commit == "" {
		sum := sha1.Sum([]byte("commit " + r.ID))
		r.Commit = hex.EncodeToString(sum[:])
	}
	refs := map[string]string{"main": r.Commit}
	for k, v := range r.Refs {
		refs[k] = v
	}
	r.Refs = refs
	for name, data := range r.Files {
		if IsLFS(name) {
			s.blobs[SHA256(data)] = blob{name: name, data: data}
		}
	}
	s.repos[r.ID] = &r
	return r.Commit
}

// Rename makes old a redirect to new, as the Hub does for renamed repositories.
func (s *Server) Rename(old, new string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renamed[old] = new
}

// FailNext makes the next n requests for file (or, with file "api", for the file listing)
// answer 500.
func (s *Server) FailNext(file string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[file] = n
}

// DropAfter makes the next `times` downloads of file send `after` bytes of body and then
// close the connection.
func (s *Server) DropAfter(file string, after, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop[file] = drops{after: after, times: times}
}

// StallAfter makes the next `times` downloads of file send `after` bytes of body and then
// send nothing more, keeping the connection open until the client gives up.
func (s *Server) StallAfter(file string, after, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall[file] = drops{after: after, times: times}
}

// Corrupt makes downloads of file send different bytes of the same length.
func (s *Server) Corrupt(file string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt[file] = on
}

// IgnoreRange makes the servers answer Range requests with the whole file (200).
func (s *Server) IgnoreRange(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignoreRange = on
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// ResetLog forgets the requests received so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// IsLFS reports whether the fake Hub stores name in LFS, as the Hub's default .gitattributes
// does for weights and SentencePiece models.
func IsLFS(name string) bool {
	switch path.Ext(name) {
	case ".safetensors", ".bin", ".model":
		return true
	}
	return false
}

// SHA256 is the hex sha256 of data: an LFS file's ETag and blob name.
func SHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// GitSHA1 is the git blob hash of data: a regular file's ETag and blob name.
func GitSHA1(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// ETag is the blob name a client should store name's contents under.
func ETag(name string, data []byte) string {
	if IsLFS(name) {
		return SHA256(data)
	}
	return GitSHA1(data)
}

func (s *Server) logged(server string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.log = append(s.log, Request{
			Server: server, Method: r.Method, Path: r.URL.Path,
			Range: r.Header.Get("Range"), Auth: r.Header.Get("Authorization"),
		})
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// takeFailure consumes one pending 500 for key.
func (s *Server) takeFailure(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail[key] > 0 {
		s.fail[key]--
		return true
	}
	return false
}

func hubError(w http.ResponseWriter, code int, errorCode, msg string) {
	if errorCode != "" {
		w.Header().Set("X-Error-Code", errorCode)
	}
	w.Header().Set("X-Error-Message", msg)
	http.Error(w, fmt.Sprintf(`{"error":%q}`, msg), code)
}

// repo finds the repository a request names, answering for it (a redirect or an error) and
// returning nil when there is nothing more to do.
func (s *Server) repo(w http.ResponseWriter, r *http.Request) *Repo {
	id := r.PathValue("org") + "/" + r.PathValue("name")
	s.mu.Lock()
	repo := s.repos[id]
	to, renamed := s.renamed[id]
	s.mu.Unlock()
	if renamed {
		http.Redirect(w, r, strings.Replace(r.URL.EscapedPath(), "/"+id+"/", "/"+to+"/", 1), http.StatusTemporaryRedirect)
		return nil
	}
	if repo == nil {
		// Without a token the Hub does not say whether a private repository exists.
		if r.Header.Get("Authorization") == "" {
			hubError(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		} else {
			hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		}
		return nil
	}
	return repo
}

// route dispatches hub requests by hand: the two URL shapes overlap as ServeMux patterns.
//
//	/api/models/ORG/NAME/revision/REV   (REV path-escaped: refs%2Fpr%2F1)
//	/ORG/NAME/resolve/REV/FILE
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			segs[i] = u
		}
	}
	switch {
	case len(segs) == 6 && segs[0] == "api" && segs[1] == "models" && segs[4] == "revision":
		r.SetPathValue("org", segs[2])
		r.SetPathValue("name", segs[3])
		r.SetPathValue("rev", segs[5])
		s.apiModel(w, r)
	case len(segs) >= 5 && segs[2] == "resolve":
		r.SetPathValue("org", segs[0])
		r.SetPathValue("name", segs[1])
		r.SetPathValue("rev", segs[3])
		r.SetPathValue("file", strings.Join(segs[4:], "/"))
		s.resolve(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) apiModel(w http.ResponseWriter, r *http.Request) {
	if s.takeFailure("api") {
		hubError(w, http.StatusInternalServerError, "", "Internal Error")
		return
	}
	repo := s.repo(w, r)
	if repo == nil {
		return
	}
	commit, ok := repo.commit(r.PathValue("rev"))
	if !ok {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+r.PathValue("rev"))
		return
	}
	type sibling struct {
		RFilename string `json:"rfilename"`
	}
	info := struct {
		ID       string    `json:"id"`
		ModelID  string    `json:"modelId"`
		SHA      string    `json:"sha"`
		Private  bool      `json:"private"`
		Gated    any       `json:"gated"`
		Siblings []sibling `json:"siblings"`
	}{ID: repo.ID, ModelID: repo.ID, SHA: commit, Gated: false}
	if repo.Gated {
		info.Gated = "manual"
	}
	names := make([]string, 0, len(repo.Files))
	for name := range repo.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		info.Siblings = append(info.Siblings, sibling{name})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(info)
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if s.takeFailure(name) {
		hubError(w, http.StatusInternalServerError, "", "Internal Error")
		return
	}
	repo := s.repo(w, r)
	if repo == nil {
		return
	}
	if repo.Gated {
		switch auth := r.Header.Get("Authorization"); {
		case auth == "":
			hubError(w, http.StatusUnauthorized, "GatedRepo", "Access to model "+repo.ID+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
			return
		case auth != "Bearer "+repo.Token:
			hubError(w, http.StatusForbidden, "GatedRepo", "Access to model "+repo.ID+" is restricted and you are not in the authorized list.")
			return
		}
	}
	rev := r.PathValue("rev")
	commit, ok := repo.commit(rev)
	if !ok {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	data, ok := repo.Files[name]
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	if IsLFS(name) {
		// The ETag is the pointer file's; X-Linked-* describe the LFS object.
		sha := SHA256(data)
		pointer := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", sha, len(data))
		w.Header().Set("ETag", `"`+GitSHA1([]byte(pointer))+`"`)
		w.Header().Set("X-Linked-Etag", `"`+sha+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
		loc := s.CDN.URL + "/lfs/" + sha + "?X-Amz-Signature=cafe&response-content-disposition=attachment"
		if s.LFSLocation != nil {
			loc = s.LFSLocation(r, loc)
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+GitSHA1(data)+`"`)
	s.serve(w, r, name, data)
}

func (s *Server) cdnBlob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.blobs[r.PathValue("sha")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.takeFailure(b.name) {
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("ETag", `"`+r.PathValue("sha")+`"`)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename*=UTF-8''%s; filename="%s";`, b.name, b.name))
	s.serve(w, r, b.name, b.data)
}

// serve sends data with the Range handling and injected faults configured.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, name string, data []byte) {
	s.mu.Lock()
	corrupt, ignoreRange := s.corrupt[name], s.ignoreRange
	d := s.drop[name]
	dropNow := r.Method == http.MethodGet && d.times > 0
	if dropNow {
		d.times--
		s.drop[name] = d
	}
	st := s.stall[name]
	stallNow := r.Method == http.MethodGet && !dropNow && st.times > 0
	if stallNow {
		st.times--
		s.stall[name] = st
	}
	s.mu.Unlock()

	if corrupt && len(data) > 0 {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	body, code := data, http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && !ignoreRange {
		start, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"))
		if err != nil || !strings.HasSuffix(rng, "-") {
			http.Error(w, "unsupported Range", http.StatusBadRequest)
			return
		}
		if start >= len(data) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		body, code = data[start:], http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
	}
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	if dropNow {
		w.Write(body[:min(d.after, len(body))])
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	if stallNow {
		w.Write(body[:min(st.after, len(body))])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	w.Write(body)
}
