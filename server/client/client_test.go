package client_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/server"
	"github.com/slipway-ci/slipway/server/client"
	"github.com/slipway-ci/slipway/server/store"
)

// serve runs a real server on loopback and answers it with its admin
// token.
func serve(t *testing.T) (*server.Server, string, string) {
	dir := t.TempDir()
	s, err := server.Open(t.Context(), server.Options{DataDir: dir, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	token, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return s, ln.Addr().String(), strings.TrimSpace(string(token))
}

// cuttingProxy forwards loopback connections to addr; it closes the
// first one as soon as the server has sent it cutAfter.
func cuttingProxy(t *testing.T, addr, cutAfter string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var once sync.Once
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			cut := false
			once.Do(func() { cut = true })
			go func() { io.Copy(out, in); out.Close() }()
			go forward(in, out, cut, cutAfter)
		}
	}()
	return ln.Addr().String()
}

// forward copies the server's bytes to the client, closing both once
// cutAfter has gone through when cut is set.
func forward(in, out net.Conn, cut bool, cutAfter string) {
	defer in.Close()
	defer out.Close()
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := out.Read(buf)
		if n > 0 {
			in.Write(buf[:n])
			seen.Write(buf[:n])
			if cut && strings.Contains(seen.String(), cutAfter) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestFollowResumes: a stream cut after the first chunk is resumed from
// its last event id; the log comes out whole, nothing twice, and Follow
// answers the job's final status.
func TestFollowResumes(t *testing.T) {
	s, addr, admin := serve(t)
	ctx := context.Background()
	c := &client.Client{URL: "http://" + addr, Token: admin}
	if _, err := c.AddRepo(ctx, "octo/follow"); err != nil {
		t.Fatal(err)
	}
	st := s.Store()
	repo, _ := st.Repo(ctx, "octo", "follow")
	_, jobs, err := st.CreateBuild(ctx, store.Build{RepoID: repo.ID, Event: "push"}, []store.Job{{Name: "only", Document: []byte("{}")}})
	if err != nil {
		t.Fatal(err)
	}
	rn, _ := st.CreateRunner(ctx, store.Runner{RunUntagged: true}, "glrt-follow")
	if _, err := st.Claim(ctx, rn.ID, nil, true, time.Minute); err != nil {
		t.Fatal(err)
	}
	st.AppendLog(ctx, jobs[0].ID, 0, []byte("first\n"))
	go func() {
		time.Sleep(500 * time.Millisecond)
		st.AppendLog(ctx, jobs[0].ID, 6, []byte("second\n"))
		st.Finish(ctx, jobs[0].ID, rn.ID, store.Result{Status: store.JobFailed, ExitCode: 3})
	}()

	proxied := &client.Client{URL: "http://" + cuttingProxy(t, addr, `data: "first\n"`), Token: admin}
	var out bytes.Buffer
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	status, err := proxied.Follow(fctx, "octo/follow", 1, "only", &out)
	if err != nil || status != "failed" || out.String() != "first\nsecond\n" {
		t.Errorf("Follow: %q %v, log %q", status, err, out.String())
	}
	var stored bytes.Buffer
	if err := c.Log(ctx, "octo/follow", 1, 1, &stored); err != nil || stored.String() != "first\nsecond\n" {
		t.Errorf("Log: %q %v", stored.String(), err)
	}
	if _, err := c.Follow(ctx, "octo/follow", 1, "nope", &out); !client.IsNotFound(err) {
		t.Errorf("Follow an unknown job: %v", err)
	}
}
