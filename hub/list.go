package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
)

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
