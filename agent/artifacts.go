package agent

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/runner"
)

// Dependency is an earlier job whose artifacts this job downloads
// (GitLab's dependencies[]).
type Dependency struct {
	ID            int64          `json:"id"`
	Name          string         `json:"name"`
	ArtifactsFile *ArtifactsFile `json:"artifacts_file"`
}

// ArtifactsFile describes a dependency's archive; absent when it kept none.
type ArtifactsFile struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// fetchDependencies downloads and unpacks the archives of the job's
// dependencies into root (one directory per job, runner.ArtifactsDir) and
// names the jobs it unpacked, for runner.Options.Given, with the
// variables of their dotenv reports, for runner.Options.GivenDotenv.
func fetchDependencies(ctx context.Context, c *Client, job *Job, root string, say func(string, ...any)) ([]string, map[string][]string, error) {
	var given []string
	dotenv := map[string][]string{}
	for _, d := range job.Dependencies {
		if d.ArtifactsFile == nil {
			continue
		}
		say("Downloading artifacts of %s (job %d, %d bytes)", d.Name, d.ID, d.ArtifactsFile.Size)
		vars, err := c.DownloadArtifacts(ctx, d.ID, job.Token, runner.ArtifactsDir(root, d.Name))
		if err != nil {
			return given, dotenv, fmt.Errorf("artifacts of %s: %w", d.Name, err)
		}
		given = append(given, d.Name)
		if len(vars) > 0 {
			dotenv[d.Name] = vars
		}
	}
	return given, dotenv, nil
}

// The dotenv report variables of a job travel with its artifacts
// archive, in the zip comment (GitLab's server parses the report itself;
// slipway's gives the archive only): under this first line, NAME=value a
// line. Archives of other uploaders have none, and no file of the
// archive changes.
const dotenvComment = "slipway dotenv report variables:"

// commentOf is the archive comment that carries vars; "" for none.
func commentOf(vars []string) (string, error) {
	if len(vars) == 0 {
		return "", nil
	}
	c := dotenvComment + "\n" + strings.Join(vars, "\n")
	if len(c) > math.MaxUint16 {
		return "", fmt.Errorf("dotenv reports of %d bytes: more than a zip comment holds (%d)", len(c), math.MaxUint16)
	}
	return c, nil
}

// dotenvOf reads the variables back from an archive's comment.
func dotenvOf(comment string) []string {
	rest, ok := strings.CutPrefix(comment, dotenvComment+"\n")
	if !ok {
		return nil
	}
	var vars []string
	for _, kv := range strings.Split(rest, "\n") {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" && !strings.ContainsAny(k, " \t") {
			vars = append(vars, kv)
		}
	}
	return vars
}

// uploadKept zips and uploads what the job kept as artifacts (the runner
// wrote them under root), when it kept any.
func uploadKept(ctx context.Context, c *Client, job *Job, root, name string, dotenv []string, say func(string, ...any)) error {
	dir := runner.ArtifactsDir(root, name)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	comment, err := commentOf(dotenv)
	if err != nil {
		say("WARNING: the dotenv report's variables do not reach later jobs: %v", err)
	}
	for i := range 3 {
		if err = c.UploadArtifacts(ctx, job.ID, job.Token, dir, comment); err == nil {
			say("Artifacts of %s uploaded to the server", name)
			return nil
		}
		var se *StatusError
		if errors.As(err, &se) && se.final() {
			break
		}
		time.Sleep(time.Duration(i+1) * time.Second)
	}
	return err
}

// UploadArtifacts zips dir, with the archive comment comment, and posts
// it as the job's artifacts archive (POST jobs/:id/artifacts, multipart
// "file"), streamed: neither the archive nor the body is held in memory.
func (c *Client) UploadArtifacts(ctx context.Context, id int64, token, dir, comment string) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", "artifacts.zip")
		if err == nil {
			err = zipDir(part, dir, comment)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	path := fmt.Sprintf("jobs/%d/artifacts?artifact_format=zip&artifact_type=archive", id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/api/v4/"+path, pr)
	if err != nil {
		pr.Close()
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Job-Token", token)
	req.Header.Set("User-Agent", "slipway-runner "+Version)
	resp, err := c.client().Do(req)
	pr.Close() // ends the zipping goroutine if the request failed early
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &StatusError{Call: "POST " + path, Code: resp.StatusCode, Body: string(body)}
	}
	return nil
}

// DownloadArtifacts fetches job id's archive with this job's token (GET
// jobs/:id/artifacts) to a temporary file and unpacks it into dir; it
// returns the dotenv variables the archive's comment carries.
func (c *Client) DownloadArtifacts(ctx context.Context, id int64, token, dir string) ([]string, error) {
	path := fmt.Sprintf("jobs/%d/artifacts", id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.URL, "/")+"/api/v4/"+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Job-Token", token)
	req.Header.Set("User-Agent", "slipway-runner "+Version)
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &StatusError{Call: "GET " + path, Code: resp.StatusCode, Body: string(body)}
	}
	f, err := os.CreateTemp("", "slipway-artifacts-*.zip")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, fmt.Errorf("GET %s: %d of %d bytes", path, n, resp.ContentLength)
	}
	comment, err := unzip(f, n, dir)
	return dotenvOf(comment), err
}

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// zipDir writes the regular files under dir to w as a zip archive, with
// slash-separated paths relative to dir and their modes, and comment.
func zipDir(w io.Writer, dir, comment string) error {
	zw := zip.NewWriter(w)
	if err := zw.SetComment(comment); err != nil {
		return err
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name, h.Method = filepath.ToSlash(rel), zip.Deflate
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(fw, f)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

// unzip unpacks the regular files of the archive into dir; a name that
// would land outside dir is an error, not a file. It returns the
// archive's comment.
func unzip(r io.ReaderAt, size int64, dir string) (string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return "", fmt.Errorf("the artifacts archive: %w", err)
	}
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(zf.Name)) {
			return "", fmt.Errorf("the artifacts archive holds %q, outside its directory", zf.Name)
		}
		if !zf.Mode().IsRegular() {
			continue
		}
		if err := unzipFile(zf, filepath.Join(dir, filepath.FromSlash(zf.Name))); err != nil {
			return "", err
		}
	}
	return zr.Comment, os.MkdirAll(dir, 0o755)
}

func unzipFile(zf *zip.File, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, zf.Mode().Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
