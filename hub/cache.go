// Package hub finds models in the local Hugging Face cache and downloads them into it, in the
// layout huggingface_hub uses, so that files fetched by huggingface-cli are reused here and
// files fetched here are reused by transformers.
//
// The cache layout, per repository (see huggingface_hub's file_download.py):
//
//	models--ORG--NAME/
//	    blobs/<etag>                 file contents, named by git sha1 or, for LFS files, sha256
//	    refs/<revision>              the commit a branch or tag pointed to when last fetched
//	    snapshots/<commit>/<file>    relative symlink to ../../blobs/<etag>
package hub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultRevision is the revision used when a model id names none, as in huggingface_hub.
const DefaultRevision = "main"

// ID names a model repository on the Hub and, optionally, a revision of it.
type ID struct {
	Repo     string // "ORG/NAME"
	Revision string // branch, tag or commit hash; "" means DefaultRevision
}

// String formats id as ParseID accepts it.
func (id ID) String() string {
	if id.Revision == "" {
		return id.Repo
	}
	return id.Repo + "@" + id.Revision
}

func (id ID) rev() string {
	if id.Revision == "" {
		return DefaultRevision
	}
	return id.Revision
}

// folder is the repository's directory name in the cache: huggingface_hub's repo_folder_name
// with repo_type "model".
func (id ID) folder() string {
	return "models--" + strings.ReplaceAll(id.Repo, "/", "--")
}

// repoNamePart matches one half of a repo id as the Hub accepts it (huggingface_hub's
// validate_repo_id): letters, digits, '-', '_', '.', at most 96 characters.
var repoNamePart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}$`)

// ParseID parses "ORG/NAME" or "ORG/NAME@REV". REV may contain slashes ("refs/pr/1").
func ParseID(s string) (ID, error) {
	repo, rev, hasRev := strings.Cut(s, "@")
	org, name, ok := strings.Cut(repo, "/")
	if !ok || strings.Contains(name, "/") {
		return ID{}, fmt.Errorf("invalid model id %q: want ORG/NAME[@REVISION]", s)
	}
	for _, part := range []string{org, name} {
		// "--" would be ambiguous in the cache folder name and ".." is a path; the Hub
		// forbids both.
		if !repoNamePart.MatchString(part) || strings.Contains(part, "--") || strings.Contains(part, "..") ||
			strings.HasSuffix(part, ".") || strings.HasSuffix(part, "-") {
			return ID{}, fmt.Errorf("invalid model id %q: %q is not a valid Hugging Face name", s, part)
		}
	}
	if hasRev {
		if err := checkRevision(rev); err != nil {
			return ID{}, fmt.Errorf("invalid model id %q: %v", s, err)
		}
	}
	return ID{Repo: repo, Revision: rev}, nil
}

// checkRevision rejects revisions that would escape refs/ when used as a path there.
func checkRevision(rev string) error {
	if rev == "" {
		return errors.New("empty revision")
	}
	if strings.ContainsAny(rev, "\\\x00") || strings.HasPrefix(rev, "/") || strings.HasSuffix(rev, "/") {
		return fmt.Errorf("invalid revision %q", rev)
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid revision %q", rev)
		}
	}
	return nil
}

var commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// isCommit reports whether rev is a full commit hash, which huggingface_hub looks up under
// snapshots/ directly instead of through refs/.
func isCommit(rev string) bool { return commitHash.MatchString(rev) }

// CacheDir returns the Hugging Face hub cache directory, with huggingface_hub's precedence
// (constants.py): $HF_HUB_CACHE, then the legacy $HUGGINGFACE_HUB_CACHE, then $HF_HOME/hub,
// then $XDG_CACHE_HOME/huggingface/hub, then ~/.cache/huggingface/hub.
func CacheDir() string {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if dir := os.Getenv(v); dir != "" {
			return expandPath(dir)
		}
	}
	return filepath.Join(hfHome(), "hub")
}

// hfHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func hfHome() string {
	if dir := os.Getenv("HF_HOME"); dir != "" {
		return expandPath(dir)
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "~"
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(expandPath(cache), "huggingface")
}

// expandPath does what Python's os.path.expandvars(os.path.expanduser(p)) does to the
// variables above: a leading ~ becomes the home directory and $VAR references are expanded,
// leaving unknown ones as written.
func expandPath(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = home + p[1:]
		}
	}
	return os.Expand(p, func(name string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return "${" + name + "}"
	})
}

// Token returns the Hugging Face access token as huggingface_hub finds it: $HF_TOKEN, then the
// legacy $HUGGING_FACE_HUB_TOKEN, then the file $HF_TOKEN_PATH or $HF_HOME/token written by
// `huggingface-cli login`. It returns "" when there is none.
func Token() string {
	for _, v := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(v)); t != "" {
			return t
		}
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path != "" {
		path = expandPath(path)
	} else {
		path = filepath.Join(hfHome(), "token")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// NotCachedError reports a model found neither on disk nor in the cache, with every place
// that was looked at.
type NotCachedError struct {
	Model  string   // the argument as given
	Repo   string   // the hub id, "" when Model was not one
	Looked []string // "path (why it did not do)"
}

func (e *NotCachedError) Error() string {
	var b strings.Builder
	if e.Repo == "" {
		fmt.Fprintf(&b, "model %q: no such directory", e.Model)
		if len(e.Looked) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(e.Looked, "; "))
		}
		b.WriteString("; give a model directory or a Hugging Face id such as nvidia/Minitron-4B-Base")
		return b.String()
	}
	fmt.Fprintf(&b, "model %q is neither a local directory nor in the Hugging Face cache; looked in:", e.Model)
	for _, l := range e.Looked {
		b.WriteString("\n  ")
		b.WriteString(l)
	}
	fmt.Fprintf(&b, "\nto download it, run: minitron pull %s", e.Model)
	return b.String()
}

// Resolve turns a model argument into a local directory. An existing path is returned as is.
// Anything else that reads as ORG/NAME[@REV] is looked up in the cache (CacheDir). Arguments
// that look like paths (starting with '/', '.', or '~', or with more than one slash before any
// '@') are never taken for hub ids, so a mistyped path is reported as a missing path.
func Resolve(arg string) (string, error) {
	if arg == "" {
		return "", errors.New("no model given: pass a model directory or a Hugging Face id such as nvidia/Minitron-4B-Base")
	}
	// The shell leaves ~ alone in -model=~/x; expand it as it would have.
	if strings.HasPrefix(arg, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			arg = filepath.Join(home, arg[2:])
		}
	}
	st, statErr := os.Stat(arg)
	if statErr == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("model %s is not a directory: give the directory that holds config.json", arg)
		}
		return arg, nil
	}
	if looksLikePath(arg) {
		return "", &NotCachedError{Model: arg, Looked: []string{describeStatErr(arg, statErr)}}
	}
	id, err := ParseID(arg)
	if err != nil {
		return "", fmt.Errorf("model %q: no such directory, and %v", arg, err)
	}
	dir, looked, err := lookup(CacheDir(), id)
	if err == nil {
		return dir, nil
	}
	return "", &NotCachedError{
		Model:  arg,
		Repo:   id.Repo,
		Looked: append([]string{describeStatErr(arg, statErr)}, looked...),
	}
}

// looksLikePath reports whether arg must be a filesystem path rather than a hub id.
func looksLikePath(arg string) bool {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") || strings.HasPrefix(arg, "~") ||
		strings.ContainsRune(arg, '\\') || filepath.IsAbs(arg) {
		return true
	}
	repo, _, _ := strings.Cut(arg, "@")
	return strings.Count(repo, "/") != 1
}

func describeStatErr(path string, err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return path + " (no such file or directory)"
	}
	return fmt.Sprintf("%s (%v)", path, errors.Unwrap(err))
}

// Snapshot returns the snapshot directory of id in the cache rooted at cacheDir, as
// huggingface_hub's try_to_load_from_cache finds it: a full commit hash names its snapshot
// directly, any other revision is read from refs/. A short commit hash matching exactly one
// snapshot is accepted too. The snapshot must hold config.json, so that a download cut short
// before its first file is not mistaken for a model.
func Snapshot(cacheDir string, id ID) (string, error) {
	dir, looked, err := lookup(cacheDir, id)
	if err != nil {
		return "", &NotCachedError{Model: id.String(), Repo: id.Repo, Looked: looked}
	}
	return dir, nil
}

// lookup does Snapshot's work, returning the places it looked when it fails.
func lookup(cacheDir string, id ID) (dir string, looked []string, err error) {
	repoDir := filepath.Join(cacheDir, id.folder())
	rev := id.rev()
	if err := checkRevision(rev); err != nil {
		return "", nil, err
	}
	commit := rev
	if !isCommit(rev) {
		ref := filepath.Join(repoDir, "refs", filepath.FromSlash(rev))
		b, err := os.ReadFile(ref)
		switch {
		case err == nil:
			commit = strings.TrimSpace(string(b))
			if !isCommit(commit) {
				return "", []string{fmt.Sprintf("%s (holds %q, not a commit hash)", ref, commit)}, errors.New("bad ref")
			}
		case isShortCommit(rev):
			if c, ok := uniqueSnapshot(repoDir, rev); ok {
				commit = c
				break
			}
			fallthrough
		default:
			return "", []string{describeStatErr(ref, err)}, err
		}
	}
	snap := filepath.Join(repoDir, "snapshots", commit)
	if _, err := os.Stat(filepath.Join(snap, "config.json")); err != nil {
		if _, derr := os.Stat(snap); derr != nil {
			return "", []string{describeStatErr(snap, derr)}, derr
		}
		return "", []string{describeStatErr(filepath.Join(snap, "config.json"), err)}, err
	}
	return snap, nil, nil
}

var shortCommit = regexp.MustCompile(`^[0-9a-f]{7,39}$`)

func isShortCommit(rev string) bool { return shortCommit.MatchString(rev) }

// uniqueSnapshot finds the one snapshot whose commit starts with prefix.
func uniqueSnapshot(repoDir, prefix string) (string, bool) {
	entries, err := os.ReadDir(filepath.Join(repoDir, "snapshots"))
	if err != nil {
		return "", false
	}
	found := ""
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && isCommit(e.Name()) {
			if found != "" {
				return "", false
			}
			found = e.Name()
		}
	}
	return found, found != ""
}
