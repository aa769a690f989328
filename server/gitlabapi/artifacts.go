package gitlabapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/server/store"
)

// defaultMaxArtifacts is GitLab's default maximum artifacts size (100 MB).
const defaultMaxArtifacts = 100 << 20

// artifactSpec is an entry of the job's artifacts[]: what a stock
// gitlab-runner collects and uploads after the job.
type artifactSpec struct {
	Name           string   `json:"name"`
	Untracked      bool     `json:"untracked"`
	Paths          []string `json:"paths"`
	Exclude        []string `json:"exclude"`
	When           string   `json:"when"`
	ArtifactType   string   `json:"artifact_type"`
	ArtifactFormat string   `json:"artifact_format"`
	ExpireIn       string   `json:"expire_in"`
}

// dependency is an entry of the job's dependencies[]: an earlier job of
// the build whose artifacts this one downloads (GET jobs/:id/artifacts
// with its own job token).
type dependency struct {
	ID            int64          `json:"id"`
	Name          string         `json:"name"`
	Token         string         `json:"token"`
	ArtifactsFile *artifactsFile `json:"artifacts_file,omitempty"`
}

type artifactsFile struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// artifactSpecs is the job's artifacts: as a stock runner reads it.
func artifactSpecs(j *pipeline.Job) []artifactSpec {
	a := j.Artifacts
	if a == nil || len(a.Paths) == 0 && !a.Untracked {
		return []artifactSpec{}
	}
	when := "on_success"
	switch a.When {
	case pipeline.OnFailure:
		when = "on_failure"
	case pipeline.Always:
		when = "always"
	}
	return []artifactSpec{{Name: a.Name, Untracked: a.Untracked, Paths: nonNil(a.Paths), Exclude: nonNil(a.Exclude),
		When: when, ArtifactType: "archive", ArtifactFormat: "zip", ExpireIn: a.ExpireIn}}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// dependencies are the jobs of the build the job takes artifacts from
// (the dialect's GitLab rules: dependencies:, needs:, earlier stages),
// with the archive each one kept, if any.
func (h *handler) dependencies(ctx context.Context, jc *jobContext) ([]dependency, error) {
	out := []dependency{}
	if len(jc.job.ArtifactsFrom) == 0 {
		return out, nil
	}
	jobs, err := h.st.Jobs(ctx, jc.build.ID)
	if err != nil {
		return nil, fmt.Errorf("jobs of build %d: %w", jc.build.ID, err)
	}
	for _, j := range jobs {
		if j.ID == jc.claimed.Job.ID || !slices.Contains(jc.job.ArtifactsFrom, j.Name) {
			continue
		}
		d := dependency{ID: j.ID, Name: j.Name, Token: jc.claimed.Token}
		a, err := h.st.Artifact(ctx, j.ID)
		switch {
		case err == nil && !expired(a):
			d.ArtifactsFile = &artifactsFile{Filename: a.Filename, Size: a.Size}
		case err == nil:
			// Expired: listed without a file, as GitLab does.
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// uploadArtifacts is POST jobs/:id/artifacts: a multipart body whose
// "file" part is the archive. It is spooled to a temporary file (bounded
// by MaxArtifacts) and then stored, so that a slow upload does not hold a
// database transaction open. Archives of other types than "archive"
// (reports) are taken and not kept: nothing downloads them.
func (h *handler) uploadArtifacts(w http.ResponseWriter, r *http.Request) {
	job, _, ok := h.jobAuth(w, r, r.URL.Query().Get("token"))
	if !ok {
		return
	}
	if _, ok := h.renew(w, r, job); !ok {
		return
	}
	q := r.URL.Query()
	format := q.Get("artifact_format")
	if format == "" {
		format = "zip"
	}
	if format != "zip" && format != "gzip" && format != "raw" {
		fail(w, http.StatusBadRequest, "artifact_format %q: want zip, gzip or raw", format)
		return
	}
	if r.ContentLength > h.o.MaxArtifacts+1<<20 {
		fail(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large: artifacts over %d bytes", h.o.MaxArtifacts)
		return
	}
	f, name, status, err := h.spool(r)
	if err != nil {
		fail(w, status, "%v", err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if t := q.Get("artifact_type"); t != "" && t != "archive" {
		writeJSON(w, http.StatusCreated, map[string]any{"id": job.ID, "artifact_type": t, "kept": false})
		return
	}
	a := store.Artifact{JobID: job.ID, Filename: name, Format: format}
	if d, ok := expireIn(q.Get("expire_in")); ok && d > 0 {
		a.Expires = time.Now().Add(d)
	}
	if a, err = h.st.PutArtifact(r.Context(), a, f); err != nil {
		internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": job.ID,
		"artifacts_file": artifactsFile{Filename: a.Filename, Size: a.Size}, "sha256": a.SHA256})
}

// spool copies the multipart body's "file" part to a temporary file,
// rewound, with the part's file name. On error it says which status to
// answer.
func (h *handler) spool(r *http.Request) (*os.File, string, int, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", http.StatusBadRequest, fmt.Errorf("400 Bad Request: want a multipart/form-data body with a \"file\" part: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", http.StatusBadRequest, errors.New("400 Bad Request: the body has no \"file\" part")
		}
		if err != nil {
			return nil, "", http.StatusBadRequest, fmt.Errorf("400 Bad Request: reading the body: %v", err)
		}
		if part.FormName() != "file" {
			continue
		}
		f, err := os.CreateTemp("", "slipway-artifacts-")
		if err != nil {
			return nil, "", http.StatusInternalServerError, fmt.Errorf("server error: %v", err)
		}
		n, err := io.Copy(f, io.LimitReader(part, h.o.MaxArtifacts+1))
		if err == nil && n > h.o.MaxArtifacts {
			err = fmt.Errorf("413 Request Entity Too Large: artifacts over %d bytes", h.o.MaxArtifacts)
		}
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			if n > h.o.MaxArtifacts {
				return nil, "", http.StatusRequestEntityTooLarge, err
			}
			return nil, "", http.StatusBadRequest, fmt.Errorf("400 Bad Request: reading the archive: %v", err)
		}
		name := part.FileName()
		if name == "" {
			name = "artifacts.zip"
		}
		return f, name, 0, nil
	}
}

// downloadArtifacts is GET jobs/:id/artifacts: a running job of the same
// repository (its token in JOB-TOKEN or ?token=) fetches the archive.
func (h *handler) downloadArtifacts(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		fail(w, http.StatusNotFound, "404 Not Found: job %q", r.PathValue("id"))
		return
	}
	tok := token(r.URL.Query().Get("token"), r, "JOB-TOKEN", "PRIVATE-TOKEN")
	if tok == "" {
		fail(w, http.StatusUnauthorized, "401 Unauthorized: a running job's token is required (JOB-TOKEN)")
		return
	}
	caller, err := h.st.JobByToken(r.Context(), tok)
	if errors.Is(err, store.ErrNotFound) {
		fail(w, http.StatusForbidden, "403 Forbidden: not the token of a running job")
		return
	} else if err != nil {
		internal(w, r, err)
		return
	}
	if ok, err := h.sameRepo(r.Context(), caller, id); err != nil {
		internal(w, r, err)
		return
	} else if !ok {
		fail(w, http.StatusForbidden, "403 Forbidden: job %d belongs to another repository than job %d", id, caller.ID)
		return
	}
	a, err := h.st.Artifact(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		fail(w, http.StatusNotFound, "404 Not Found: job %d kept no artifacts", id)
		return
	} else if err == nil && expired(a) {
		fail(w, http.StatusNotFound, "404 Not Found: the artifacts of job %d expired at %s (expire_in)", id, a.Expires.Format(time.RFC3339))
		return
	} else if err != nil {
		internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType(a.Format))
	w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
	w.WriteHeader(http.StatusOK)
	if err := h.st.ReadArtifact(r.Context(), id, w); err != nil && r.Context().Err() == nil {
		// Too late for a status: the short body tells the client.
		slog.Error("gitlab api: artifacts download cut short", "job", id, "err", err)
	}
}

// sameRepo reports whether job id is of the same repository as caller.
func (h *handler) sameRepo(ctx context.Context, caller store.Job, id int64) (bool, error) {
	target, err := h.st.Job(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if target.BuildID == caller.BuildID {
		return true, nil
	}
	b1, err := h.st.BuildByID(ctx, caller.BuildID)
	if err != nil {
		return false, err
	}
	b2, err := h.st.BuildByID(ctx, target.BuildID)
	return err == nil && b1.RepoID == b2.RepoID, err
}

// expired: the archive's expire_in has passed. GitLab answers 404 for it,
// and so does this server (the rows stay until the repository goes).
func expired(a store.Artifact) bool {
	return !a.Expires.IsZero() && time.Now().After(a.Expires)
}

func contentType(format string) string {
	switch format {
	case "zip":
		return "application/zip"
	case "gzip":
		return "application/gzip"
	}
	return "application/octet-stream"
}

var expireRe = regexp.MustCompile(`^(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?|mos?|months?|y|yrs?|years?)$`)

// expireIn reads GitLab's expire_in ("30 days", "1 week", "3h"); "never"
// and "" keep the archive for good.
func expireIn(s string) (time.Duration, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "never" {
		return 0, true
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	m := expireRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour,
		'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}[m[2][0]]
	if strings.HasPrefix(m[2], "mo") {
		unit = 30 * 24 * time.Hour
	}
	return time.Duration(n) * unit, true
}
