package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/minitron-go/minitron/hub"
)

func init() {
	commands["pull"] = command{
		summary: "download a model from Hugging Face into the local cache",
		run:     runPull,
	}
}

// runPull downloads a model into the Hugging Face cache, showing progress on stderr, and
// prints the snapshot directory on stdout, so that `dir=$(minitron pull ORG/NAME)` works.
func runPull(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pull", "pull [flags] ORG/NAME[@REVISION]", stderr)
	rev := fs.String("revision", "", "branch, tag or commit hash to fetch (default main)")
	cacheDir := fs.String("cache-dir", "", "Hugging Face hub cache (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)")
	quiet := fs.Bool("q", false, "show no progress")
	// Flags may come before or after the model id: stop at the id, take it, parse the rest.
	var ids []string
	for {
		if err := parseFlags(fs, args, true); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		ids = append(ids, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(ids) != 1 {
		return usagef("want one model id, ORG/NAME[@REVISION], such as nvidia/Minitron-4B-Base")
	}
	if _, err := hub.ParseID(ids[0]); err != nil {
		return usagef("%v", err)
	}
	opts := hub.Options{CacheDir: *cacheDir}
	var pp *pullProgress
	if !*quiet {
		pp = newPullProgress(stderr)
		opts.Progress = pp.report
		opts.ProgressInterval = pp.interval
	}
	dir, err := hub.Pull(ctx, ids[0], *rev, opts)
	if pp != nil {
		pp.finish()
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; run the same command again to resume: %w", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, dir)
	return nil
}

// pullProgress prints hub.Progress reports: one line redrawn in place on a terminal, else a
// line per file and an update every few seconds, which suits logs.
type pullProgress struct {
	w        io.Writer
	live     bool
	interval time.Duration
	open     bool // a live line is on screen without its newline
	file     string
	start    time.Time
	startAt  int64
}

func newPullProgress(w io.Writer) *pullProgress {
	p := &pullProgress{w: w, interval: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.live, p.interval = true, 200*time.Millisecond
		}
	}
	return p
}

func (p *pullProgress) report(r hub.Progress) {
	first := r.File != p.file
	if first {
		p.file, p.start, p.startAt = r.File, time.Now(), r.Done
	}
	// In a log, a line saying a download starts from nothing is noise.
	if !p.live && first && !r.Complete && r.Done == 0 {
		return
	}
	prefix := fmt.Sprintf("[%d/%d] %s", r.Index, r.Count, r.File)
	var line string
	switch {
	case r.Cached:
		line = fmt.Sprintf("%s  %s, already cached", prefix, pullSize(r.Done))
	case r.Total >= 0:
		pct := 100.0
		if r.Total > 0 {
			pct = 100 * float64(r.Done) / float64(r.Total)
		}
		line = fmt.Sprintf("%s  %s / %s  %3.0f%%", prefix, pullSize(r.Done), pullSize(r.Total), pct)
	default:
		line = fmt.Sprintf("%s  %s", prefix, pullSize(r.Done))
	}
	if el := time.Since(p.start); !r.Cached && el > time.Second {
		line += fmt.Sprintf("  %s/s", pullSize(int64(float64(r.Done-p.startAt)/el.Seconds())))
	}
	if !p.live {
		fmt.Fprintln(p.w, line)
		return
	}
	// Pad to wipe what a longer previous line left.
	fmt.Fprintf(p.w, "\r%-79s", line)
	p.open = true
	if r.Complete {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

// finish ends a live line cut short by an error.
func (p *pullProgress) finish() {
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

// pullSize formats a byte count with binary units.
func pullSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
