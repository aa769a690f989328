package gitlabapi

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// upload posts data as the "file" part of a multipart body, as
// gitlab-runner's artifacts uploader does.
func (e *env) upload(id int64, token string, data []byte, query string) reply {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "artifacts.zip")
	check(e.t, err)
	fw.Write(data)
	check(e.t, mw.Close())
	return e.do("POST", "/api/v4/jobs/"+strconv.FormatInt(id, 10)+"/artifacts"+query, body.Bytes(),
		"JOB-TOKEN", token, "Content-Type", mw.FormDataContentType())
}

// TestArtifactsUploadAndDownload: build uploads an archive, test is told
// of it in dependencies[] and downloads it byte for byte with its own job
// token; the upload renews build's lease.
func TestArtifactsUploadAndDownload(t *testing.T) {
	e := newEnv(t)
	e.queueGitLab(`
stages: [build, test]
build:
  stage: build
  script: [make]
  artifacts: {paths: [bin/], expire_in: 1 week}
test:
  stage: test
  script: [bin/app]
`)
	raw := e.request().want(t, http.StatusCreated, "build's jobs/request").body
	var build runnerJob
	var spec struct {
		Artifacts []artifactSpec `json:"artifacts"`
	}
	check(t, json.Unmarshal(raw, &build))
	check(t, json.Unmarshal(raw, &spec))
	if len(spec.Artifacts) != 1 || spec.Artifacts[0].Paths[0] != "bin/" || spec.Artifacts[0].ArtifactFormat != "zip" {
		t.Errorf("build's artifacts[]: %+v", spec.Artifacts)
	}
	r := e.do("GET", "/api/v4/jobs/"+strconv.FormatInt(build.ID, 10)+"/artifacts", nil, "JOB-TOKEN", build.Token)
	r.want(t, http.StatusNotFound, "download before any upload")
	before := e.job(build.ID).LeaseExpires
	data := make([]byte, 3<<20)
	rand.Read(data)
	time.Sleep(10 * time.Millisecond)
	e.upload(build.ID, build.Token, data, "?artifact_format=zip&artifact_type=archive&expire_in=1+week").
		want(t, http.StatusCreated, "upload")
	if !e.job(build.ID).LeaseExpires.After(before) {
		t.Errorf("the upload did not renew the lease")
	}
	e.put(build, "success").want(t, http.StatusOK, "build succeeds")

	raw = e.request().want(t, http.StatusCreated, "test's jobs/request").body
	var test runnerJob
	var full struct {
		Dependencies []dependency `json:"dependencies"`
	}
	check(t, json.Unmarshal(raw, &test))
	check(t, json.Unmarshal(raw, &full))
	if len(full.Dependencies) != 1 || full.Dependencies[0].ID != build.ID || full.Dependencies[0].Name != "build" ||
		full.Dependencies[0].ArtifactsFile == nil || full.Dependencies[0].ArtifactsFile.Size != int64(len(data)) {
		t.Fatalf("test's dependencies: %+v", full.Dependencies)
	}
	got := e.do("GET", "/api/v4/jobs/"+strconv.FormatInt(build.ID, 10)+"/artifacts", nil, "JOB-TOKEN", test.Token).
		want(t, http.StatusOK, "download")
	if !bytes.Equal(got.body, data) || got.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("downloaded %d bytes (%s), want the %d uploaded", len(got.body), got.header.Get("Content-Type"), len(data))
	}
	// A finished job's token, and no token, are refused.
	e.do("GET", "/api/v4/jobs/"+strconv.FormatInt(build.ID, 10)+"/artifacts", nil, "JOB-TOKEN", build.Token).
		want(t, http.StatusForbidden, "download with a finished job's token")
	e.do("GET", "/api/v4/jobs/"+strconv.FormatInt(build.ID, 10)+"/artifacts", nil).
		want(t, http.StatusUnauthorized, "download without a token")
	e.upload(test.ID, build.Token, data, "").want(t, http.StatusForbidden, "upload with another job's token")
}

// TestArtifactsRefusals: too big (413), not multipart, no file part, a
// bad format: each a 4xx with a reason and nothing stored.
func TestArtifactsRefusals(t *testing.T) {
	e := newEnv(t)
	o := e.h.o
	o.MaxArtifacts = 1000
	e.serve(o)
	e.queueGitLab("build:\n  script: [make]\n")
	j := e.take()
	e.upload(j.ID, j.Token, make([]byte, 1001), "").want(t, http.StatusRequestEntityTooLarge, "too big")
	e.upload(j.ID, j.Token, []byte("x"), "?artifact_format=rar").want(t, http.StatusBadRequest, "bad format")
	e.do("POST", "/api/v4/jobs/"+strconv.FormatInt(j.ID, 10)+"/artifacts", "plain", "JOB-TOKEN", j.Token).
		want(t, http.StatusBadRequest, "not multipart")
	if _, err := e.st.Artifact(t.Context(), j.ID); err == nil {
		t.Fatal("a refused upload was stored")
	}
}

// TestArtifactsExpire: an archive past its expire_in is not downloaded
// and not offered to later jobs.
func TestArtifactsExpire(t *testing.T) {
	e := newEnv(t)
	e.queueGitLab("stages: [a, b]\nbuild:\n  stage: a\n  script: [make]\n  artifacts: {paths: [x]}\ntest:\n  stage: b\n  script: [x]\n")
	build := e.take()
	e.upload(build.ID, build.Token, []byte("zip"), "?expire_in=1s").want(t, http.StatusCreated, "upload")
	e.put(build, "success").want(t, http.StatusOK, "build succeeds")
	time.Sleep(1100 * time.Millisecond)
	raw := e.request().want(t, http.StatusCreated, "test's jobs/request").body
	var test runnerJob
	var full struct {
		Dependencies []dependency `json:"dependencies"`
	}
	check(t, json.Unmarshal(raw, &test))
	check(t, json.Unmarshal(raw, &full))
	if len(full.Dependencies) != 1 || full.Dependencies[0].ArtifactsFile != nil {
		t.Errorf("an expired archive is offered: %+v", full.Dependencies)
	}
	e.do("GET", "/api/v4/jobs/"+strconv.FormatInt(build.ID, 10)+"/artifacts", nil, "JOB-TOKEN", test.Token).
		want(t, http.StatusNotFound, "download of an expired archive")
}
