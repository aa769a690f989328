package e2e

// Pulls from the real private registry of scripts/registry.sh (Debian's
// docker-registry with htpasswd auth on 127.0.0.1:5000): credential
// sources and their order, credential helpers, pull policies, digests,
// Drone's pull secrets and auth_config, and what the output says (and
// never says) about credentials.
//
// Every test pushes an image under a tag of its own (busybox:1.35, or an
// image built from it when the test needs a digest or a layer of its own)
// and removes the local copy, so slipway must pull it; so the tests run in
// parallel. slipway runs with a temporary HOME and DOCKER_CONFIG, so
// that the user's ~/.docker never takes part. Nothing here reaches past
// the local registry: every image is either pushed there or present with
// a non-latest tag.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/moby/moby/client"

	"github.com/slipway-ci/slipway/engine"
)

// testRegistry is where the tests push and pull.
type testRegistry struct {
	addr, user, password string
}

var (
	testRegOnce sync.Once
	testRegErr  error
	theTestReg  testRegistry
)

// testReg reads SLIPWAY_TEST_REGISTRY* (defaults: scripts/registry.sh's)
// and checks once that the registry answers and wants our password. A
// missing registry fails the test: it is part of the test set-up (.ci/run
// starts it), not an optional extra.
func testReg(t *testing.T) testRegistry {
	t.Helper()
	testRegOnce.Do(func() {
		get := func(k, def string) string {
			if v := os.Getenv(k); v != "" {
				return v
			}
			return def
		}
		theTestReg = testRegistry{
			addr:     get("SLIPWAY_TEST_REGISTRY", "127.0.0.1:5000"),
			user:     get("SLIPWAY_TEST_REGISTRY_USER", "slipway"),
			password: get("SLIPWAY_TEST_REGISTRY_PASSWORD", "slipway-test-pw"),
		}
		testRegErr = theTestReg.check()
	})
	if testRegErr != nil {
		t.Fatalf("the test registry is not usable (start it with scripts/registry.sh start): %v", testRegErr)
	}
	return theTestReg
}

// check wants 401 without credentials and 200 with them.
func (r testRegistry) check() error {
	c := &http.Client{Timeout: 5 * time.Second}
	status := func(auth bool) (int, error) {
		req, _ := http.NewRequest("GET", "http://"+r.addr+"/v2/", nil)
		if auth {
			req.SetBasicAuth(r.user, r.password)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := status(false); err != nil || code != http.StatusUnauthorized {
		return fmt.Errorf("GET http://%s/v2/ without credentials: status %d, %v; want 401", r.addr, code, err)
	}
	if code, err := status(true); err != nil || code != http.StatusOK {
		return fmt.Errorf("GET http://%s/v2/ as %s: status %d, %v; want 200", r.addr, r.user, code, err)
	}
	return nil
}

// basicAuth is the "auth" value of a config.json entry: base64 user:password.
func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// dockerAuthConfig is a Docker config.json with one auths entry.
func dockerAuthConfig(host, user, password string) string {
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": basicAuth(user, password)}}})
	return string(b)
}

// good and wrong are config.json documents for the test registry.
func (r testRegistry) good() string { return dockerAuthConfig(r.addr, r.user, r.password) }

const wrongPassword = "not-the-password-x7"

func (r testRegistry) wrong() string { return dockerAuthConfig(r.addr, r.user, wrongPassword) }

// secrets are the strings that must never appear in any output.
func (r testRegistry) secrets() []string {
	return []string{r.password, basicAuth(r.user, r.password), wrongPassword, basicAuth(r.user, wrongPassword)}
}

// pushed is an image in the test registry.
type pushed struct {
	repo   string // 127.0.0.1:5000/private/busybox/p<pid>-<n>
	tag    string
	ref    string // repo:tag
	digest string // sha256:...
	unique bool   // built for the test: its digest is its own
}

var imageSeq atomic.Int64

// dockerCLI runs the docker CLI with a throw-away DOCKER_CONFIG holding
// config (none when ""), so ~/.docker is never read or written.
func dockerCLI(t *testing.T, config string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustDockerCLI(t *testing.T, config string, args ...string) string {
	t.Helper()
	out, err := dockerCLI(t, config, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// pushPrivate tags busybox:1.35 as private/busybox/p<pid>-<n>:<a tag of the test's
// own> in the test registry, pushes it, and removes the local tag, so
// that slipway must pull it (the engine still has the layer: the pull is
// quick, but it needs the registry and the credentials as any pull). The
// cleanup removes whatever the test pulled.
func pushPrivate(t *testing.T) pushed {
	t.Helper()
	p := newPushed(t)
	mustDockerCLI(t, "", "tag", "busybox:1.35", p.ref)
	return p.push(t)
}

// pushUnique is pushPrivate for an image of its own, built from
// busybox:1.35 with a unique label and the Dockerfile lines extra: its
// manifest digest is the test's own, and its extra layers (if any) must be
// downloaded.
func pushUnique(t *testing.T, extra ...string) pushed {
	t.Helper()
	p := newPushed(t)
	p.unique = true
	dir := t.TempDir()
	df := "FROM busybox:1.35\nLABEL slipway.test=" + p.tag + "\n" + strings.Join(extra, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	mustDockerCLI(t, "", "build", "-q", "-t", p.ref, dir)
	return p.push(t)
}

func newPushed(t *testing.T) pushed {
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	seq := imageSeq.Add(1)
	tag := fmt.Sprintf("%s-%d-%d", strings.Trim(name, "-"), os.Getpid(), seq)
	// A repository per push: the registry (distribution's filesystem
	// driver) rewrites a repository's layer links on every push, and a
	// pull that reads one mid-write fails with 500 "invalid checksum
	// digest format", so pushes and pulls of parallel tests must not
	// share a repository.
	repo := fmt.Sprintf("%s/private/busybox/p%d-%d", testReg(t).addr, os.Getpid(), seq)
	return pushed{repo: repo, tag: tag, ref: repo + ":" + tag}
}

func (p pushed) push(t *testing.T) pushed {
	t.Helper()
	t.Cleanup(func() { removePrivate(t, p) })
	mustDockerCLI(t, testReg(t).good(), "push", p.ref)
	digests := mustDockerCLI(t, "", "image", "inspect", "--format", `{{join .RepoDigests " "}}`, p.ref)
	for _, rd := range strings.Fields(digests) {
		if d, ok := strings.CutPrefix(rd, p.repo+"@"); ok {
			p.digest = d
		}
	}
	if !strings.HasPrefix(p.digest, "sha256:") {
		t.Fatalf("no digest in %s after the push of %s: %q", p.repo, p.ref, digests)
	}
	removePrivate(t, p)
	return p
}

// removePrivate deletes the local names of p, so that the next use must
// pull: its tag, and its digest when that is the test's own (busybox's
// is shared by the tests running beside this one).
func removePrivate(t *testing.T, p pushed) {
	t.Helper()
	refs := []string{p.ref}
	if p.unique && p.digest != "" {
		refs = append(refs, p.repo+"@"+p.digest)
	}
	for _, ref := range refs {
		if out, err := dockerCLI(t, "", "rmi", ref); err != nil && !strings.Contains(out, "No such image") && !strings.Contains(out, "reference does not exist") {
			t.Errorf("docker rmi %s: %v\n%s", ref, err, out)
		}
	}
	if imagePresent(t, p.ref) {
		t.Fatalf("%s is still present locally after docker rmi", p.ref)
	}
}

// fetchPrivate puts p in the local cache with docker pull, so that a test can
// start with the image present.
func fetchPrivate(t *testing.T, p pushed) {
	t.Helper()
	mustDockerCLI(t, testReg(t).good(), "pull", "-q", p.ref)
}

func imagePresent(t *testing.T, ref string) bool {
	t.Helper()
	_, err := dockerCLI(t, "", "image", "inspect", ref)
	return err == nil
}

// regSandbox is the environment slipway runs in: its own HOME and
// DOCKER_CONFIG, and a bin directory first on PATH for credential helpers.
type regSandbox struct {
	t            *testing.T
	home         string
	dockerConfig string
	bin          string
}

func newRegSandbox(t *testing.T) *regSandbox {
	t.Helper()
	home := t.TempDir()
	sb := &regSandbox{t: t, home: home, dockerConfig: filepath.Join(home, ".docker"), bin: filepath.Join(home, "bin")}
	for _, d := range []string{sb.dockerConfig, sb.bin} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return sb
}

func (sb *regSandbox) env() []string {
	return []string{"HOME=" + sb.home, "DOCKER_CONFIG=" + sb.dockerConfig, "PATH=" + sb.bin + ":" + os.Getenv("PATH")}
}

// configPath is the config.json slipway reads, and the source name it
// gives.
func (sb *regSandbox) configPath() string { return filepath.Join(sb.dockerConfig, "config.json") }

func (sb *regSandbox) writeConfig(content string) {
	sb.t.Helper()
	if err := os.WriteFile(sb.configPath(), []byte(content), 0o600); err != nil {
		sb.t.Fatal(err)
	}
}

// writeFile writes a file in the sandbox and returns its path.
func (sb *regSandbox) writeFile(name, content string) string {
	sb.t.Helper()
	path := filepath.Join(sb.home, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		sb.t.Fatal(err)
	}
	return path
}

// runnerConfig writes a --config TOML file and returns its path.
func (sb *regSandbox) runnerConfig(toml string) string { return sb.writeFile("config.toml", toml) }

// runnerEnv is a [[runners]] environment holding DOCKER_AUTH_CONFIG.
func runnerEnv(config string) string {
	return "[[runners]]\n  environment = ['DOCKER_AUTH_CONFIG=" + config + "']\n"
}

// addHelper installs docker-credential-slipwaytest: it answers `get` for
// the test registry with user/password and logs each request.
func (sb *regSandbox) addHelper(user, password string) (log string) {
	sb.t.Helper()
	log = filepath.Join(sb.home, "helper.log")
	script := `#!/bin/sh
read -r server
echo "$1 $server" >> '` + log + `'
if [ "$1" = get ] && [ "$server" = '` + testReg(sb.t).addr + `' ]; then
	printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\n' "$server" '` + user + `' '` + password + `'
	exit 0
fi
echo "credentials not found in native keychain"
exit 1
`
	if err := os.WriteFile(filepath.Join(sb.bin, "docker-credential-slipwaytest"), []byte(script), 0o755); err != nil {
		sb.t.Fatal(err)
	}
	return log
}

// runIn runs slipway in the sandbox and checks that nothing is left and
// that no credential reached the output.
func (p *project) runIn(sb *regSandbox, args ...string) result {
	p.t.Helper()
	r := p.startEnv(sb.env(), args...).wait()
	p.t.Logf("slipway %s\n%s", strings.Join(args, " "), r)
	assertNothingLeft(p.t, r.owner)
	mustNotContain(p.t, r, testReg(p.t).secrets()...)
	return r
}

// creations counts the containers the engine creates from now on, by
// their owner label, from its event stream. A later query of the events
// would do, but the engine keeps only its last 256 for it: too few when
// parallel tests make and remove containers and volumes.
type creations struct {
	mu      sync.Mutex
	byOwner map[string]int
}

func watchCreations(t *testing.T) *creations {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := &creations{byOwner: map[string]int{}}
	// Since now: the events from the request on, also those the stream
	// is not yet open for.
	res := cli.Events(ctx, client.EventsListOptions{
		Since:   strconv.FormatInt(time.Now().Add(-10*time.Millisecond).Unix(), 10),
		Filters: client.Filters{}.Add("type", "container").Add("event", "create").Add("label", engine.LabelOwner),
	})
	go func() {
		defer cli.Close()
		for {
			select {
			case m := <-res.Messages:
				c.mu.Lock()
				c.byOwner[m.Actor.Attributes[engine.LabelOwner]]++
				c.mu.Unlock()
			case <-res.Err:
				return
			}
		}
	}()
	return c
}

// count is the number of containers the owners created, once the stream
// has had a moment to deliver the last of them.
func (c *creations) count(owners ...string) int {
	time.Sleep(500 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, o := range owners {
		n += c.byOwner[o]
	}
	return n
}

// runNothingStarts runs slipway, which must fail before it creates any
// container.
func (p *project) runNothingStarts(sb *regSandbox, args ...string) result {
	p.t.Helper()
	w := watchCreations(p.t)
	r := p.runIn(sb, args...)
	if n := w.count(r.owner); n != 0 {
		p.t.Errorf("%d containers were created, want none\n%s", n, r)
	}
	return r
}

// countPulls counts the "Pulling" lines of a run.
func countPulls(r result) int {
	return len(regexp.MustCompile(`(?m)^Pulling `).FindAllString(r.stdout, -1))
}

func wantPulls(t *testing.T, r result, n int) {
	t.Helper()
	if got := countPulls(r); got != n {
		t.Errorf("%d pulls, want %d\n%s", got, n, r)
	}
}

// pulledLine is the end of a pull: the image and how long it took.
var pulledLine = regexp.MustCompile(`(?m)^Pulled \S+ in [0-9.]+(ms|s|m[0-9]+s)`)

func privateGitLabJob(image string, variables string) string {
	return variables + "test:\n  image: " + image + "\n  script:\n    - echo ran-in-private-image\n"
}

func privateDroneStep(image string, extra string) string {
	return "kind: pipeline\nname: default\n" + extra + "steps:\n- name: test\n  image: " + image + "\n  commands:\n  - echo ran-in-private-image\n"
}

// authVariable is a GitLab variables: block holding DOCKER_AUTH_CONFIG.
func authVariable(config string) string {
	return "variables:\n  DOCKER_AUTH_CONFIG: '" + config + "'\n"
}

const (
	srcVariable = "DOCKER_AUTH_CONFIG variable"
	srcRunner   = "DOCKER_AUTH_CONFIG in the runner configuration's environment"
)

func TestRegistryCredentialSourcesAndOrder(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	tests := []struct {
		name string
		// where the credentials are: the YAML variable, --env, the
		// runner configuration's environment, config.json ("" none)
		yaml, env, runner, file string
		drone                   bool
		wantSource              string // the source named on the Pulling line
		ok                      bool
	}{
		{name: "yaml variable beats runner and file", yaml: reg.good(), runner: reg.wrong(), file: reg.wrong(), wantSource: srcVariable, ok: true},
		{name: "env flag (drone)", env: reg.good(), file: reg.wrong(), drone: true, wantSource: srcVariable, ok: true},
		{name: "env flag (gitlab) beats runner", env: reg.good(), runner: reg.wrong(), wantSource: srcVariable, ok: true},
		{name: "env flag overrides the yaml variable", yaml: reg.wrong(), env: reg.good(), wantSource: srcVariable, ok: true},
		{name: "runner environment beats file", runner: reg.good(), file: reg.wrong(), wantSource: srcRunner, ok: true},
		{name: "config.json", file: reg.good(), ok: true},
		{name: "variable for another host passes on", yaml: dockerAuthConfig("registry.example.com:5000", "x", wrongPassword), runner: reg.good(), wantSource: srcRunner, ok: true},
		{name: "wrong yaml variable does not fall back", yaml: reg.wrong(), runner: reg.good(), file: reg.good(), wantSource: srcVariable},
		{name: "wrong runner environment does not fall back", runner: reg.wrong(), file: reg.good(), wantSource: srcRunner},
		{name: "wrong config.json", file: reg.wrong()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := pushPrivate(t)
			sb := newRegSandbox(t)
			var args []string
			if tt.env != "" {
				args = append(args, "--env", "DOCKER_AUTH_CONFIG="+tt.env)
			}
			if tt.runner != "" {
				args = append(args, "--config", sb.runnerConfig(runnerEnv(tt.runner)))
			}
			if tt.file != "" {
				sb.writeConfig(tt.file)
			}
			source := tt.wantSource
			if source == "" {
				source = sb.configPath()
			}
			var p *project
			if tt.drone {
				p = newProject(t, ".drone.yml", privateDroneStep(img.ref, ""))
			} else {
				vars := ""
				if tt.yaml != "" {
					vars = authVariable(tt.yaml)
				}
				p = newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, vars))
			}
			r := p.runIn(sb, append([]string{"exec"}, args...)...)
			mustContain(t, r, "Pulling "+img.ref+" with credentials from "+source+"\n")
			wantPulls(t, r, 1)
			if tt.ok {
				wantCode(t, r, 0)
				mustContain(t, r, "ran-in-private-image\n")
				if !pulledLine.MatchString(r.stdout) {
					t.Errorf("no \"Pulled %s in <duration>\" line\n%s", img.ref, r)
				}
				return
			}
			wantCode(t, r, 1)
			mustContain(t, r, "pulling image "+img.ref, "registry "+reg.addr+" (credentials from "+source+")", "authentication failed")
			mustNotContain(t, r, "ran-in-private-image\n", "Pulled ")
		})
	}
}

func TestRegistryHostWithoutPortDoesNotMatch(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	img := pushPrivate(t)
	host, _, _ := strings.Cut(reg.addr, ":")
	sb := newRegSandbox(t)
	sb.writeConfig(dockerAuthConfig(host, reg.user, reg.password))
	p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, authVariable(dockerAuthConfig(host, reg.user, reg.password))))
	r := p.runNothingStarts(sb, "exec", "--config", sb.runnerConfig(runnerEnv(dockerAuthConfig(host, reg.user, reg.password))))
	wantCode(t, r, 1)
	mustContain(t, r, "Pulling "+img.ref+"\n", "pulling image "+img.ref, "registry "+reg.addr+" (no credentials found for it)", "authentication failed")
	mustNotContain(t, r, "with credentials from", "ran-in-private-image\n")
}

func TestRegistryCredentialHelper(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	for _, tt := range []struct{ name, config string }{
		{"credHelpers", `{"credHelpers":{"` + reg.addr + `":"slipwaytest"},"auths":{"` + reg.addr + `":{"auth":"` + basicAuth(reg.user, wrongPassword) + `"}}}`},
		{"credsStore", `{"credsStore":"slipwaytest","auths":{"` + reg.addr + `":{}}}`},
		{"credsStore after empty auths", `{"credsStore":"slipwaytest"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := pushPrivate(t)
			sb := newRegSandbox(t)
			log := sb.addHelper(reg.user, reg.password)
			sb.writeConfig(tt.config)
			p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, ""))
			r := p.runIn(sb, "exec")
			wantCode(t, r, 0)
			mustContain(t, r, "Pulling "+img.ref+" with credentials from "+sb.configPath()+"\n", "ran-in-private-image\n")
			calls, err := os.ReadFile(log)
			if err != nil || string(calls) != "get "+reg.addr+"\n" {
				t.Errorf("helper calls %q (%v), want one get of %s", calls, err, reg.addr)
			}
		})
	}
	t.Run("helper that fails", func(t *testing.T) {
		t.Parallel()
		img := pushPrivate(t)
		sb := newRegSandbox(t)
		sb.addHelper(reg.user, wrongPassword)
		sb.writeConfig(`{"credHelpers":{"` + reg.addr + `":"slipwaytest"}}`)
		p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, ""))
		r := p.runIn(sb, "exec")
		wantCode(t, r, 1)
		mustContain(t, r, "registry "+reg.addr+" (credentials from "+sb.configPath()+")", "authentication failed")
	})
	t.Run("helper not on PATH", func(t *testing.T) {
		t.Parallel()
		img := pushPrivate(t)
		sb := newRegSandbox(t)
		sb.writeConfig(`{"credHelpers":{"` + reg.addr + `":"slipwaytest"}}`)
		p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, ""))
		r := p.runIn(sb, "exec")
		wantCode(t, r, 1)
		mustContain(t, r, "docker-credential-slipwaytest", "not in $PATH", reg.addr)
	})
}

func TestRegistryWrongCredentialsFailClearly(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	img := pushPrivate(t)
	sb := newRegSandbox(t)
	sb.writeConfig(reg.wrong())
	p := newProject(t, ".gitlab-ci.yml", `
test:
  image: busybox:1.35
  services:
    - name: `+img.ref+`
      alias: private
      command: ["sleep", "60"]
  script: [echo job-ran]
`)
	r := p.runNothingStarts(sb, "exec")
	wantCode(t, r, 1)
	mustContain(t, r, `Job "test" failed`, "pulling image "+img.ref, "registry "+reg.addr, "authentication failed")
	mustNotContain(t, r, "job-ran\n")
}

func TestRegistryDownNamesTheRegistry(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	const down = "127.0.0.1:5999" // nothing listens here
	sb := newRegSandbox(t)
	sb.writeConfig(dockerAuthConfig(down, reg.user, reg.password))
	ref := down + "/private/busybox:1.35"
	p := newProject(t, ".drone.yml", privateDroneStep(ref, ""))
	r := p.runNothingStarts(sb, "exec")
	wantCode(t, r, 1)
	mustContain(t, r, "Pulling "+ref+" with credentials from "+sb.configPath(), "pulling image "+ref, "registry "+down, "registry unreachable", "connection refused")
	mustNotContain(t, r, "ran-in-private-image\n")
}

func TestRegistryDronePullPolicies(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	tests := []struct {
		pull    string // the step's pull: value, "" for none
		v0      bool   // Drone 0.x file
		present bool
		pulls   int
		ok      bool
	}{
		{"", false, true, 0, true}, // a tag other than latest, present: used as it is
		{"", false, false, 1, true},
		{"always", false, true, 1, true},
		{"always", false, false, 1, true},
		{"if-not-exists", false, true, 0, true},
		{"if-not-exists", false, false, 1, true},
		{"never", false, true, 0, true},
		{"never", false, false, 0, false},
		{"true", true, true, 1, true},
		{"true", true, false, 1, true},
		{"false", true, true, 0, true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("pull=%s/present=%v", tt.pull, tt.present)
		if tt.v0 {
			name = "0.x/" + name
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			img := pushPrivate(t)
			if tt.present {
				fetchPrivate(t, img)
			}
			sb := newRegSandbox(t)
			sb.writeConfig(reg.good())
			pull := ""
			if tt.pull != "" {
				pull = "  pull: " + tt.pull + "\n"
			}
			yml := privateDroneStep(img.ref, "") + pull
			if tt.v0 {
				yml = "pipeline:\n  test:\n    image: " + img.ref + "\n    pull: " + tt.pull + "\n    commands:\n      - echo ran-in-private-image\n"
			}
			p := newProject(t, ".drone.yml", yml)
			run := p.runIn
			if !tt.ok {
				run = p.runNothingStarts
			}
			r := run(sb, "exec")
			wantPulls(t, r, tt.pulls)
			if tt.ok {
				wantCode(t, r, 0)
				mustContain(t, r, "ran-in-private-image\n")
				return
			}
			wantCode(t, r, 1)
			mustContain(t, r, "image "+img.ref+" is not present locally", `pull policy is "never"`)
			mustNotContain(t, r, "+ echo ran-in-private-image", "ran-in-private-image\n")
		})
	}
}

func TestRegistryGitLabPullPolicies(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	tests := []struct {
		name     string
		policy   string // the YAML's image pull_policy, "" for none
		config   string // [runners.docker] lines
		present  bool
		pulls    int
		code     int
		contains []string
	}{
		{name: "yaml always, present", policy: "always", present: true, pulls: 1},
		{name: "yaml always, absent", policy: "always", pulls: 1},
		{name: "yaml if-not-present, present", policy: "if-not-present", present: true},
		{name: "yaml if-not-present, absent", policy: "if-not-present", pulls: 1},
		{name: "yaml never, present", policy: "never", present: true},
		{name: "yaml never, absent", policy: "never", code: 1, contains: []string{"is not present locally", `pull policy is "never"`}},
		{name: "yaml list", policy: "[never, if-not-present]", pulls: 1},
		{name: "allowed", policy: "if-not-present", config: `allowed_pull_policies = ["if-not-present", "never"]`, present: true},
		{name: "not allowed", policy: "always", config: `allowed_pull_policies = ["if-not-present"]`, code: 2,
			contains: []string{".gitlab-ci.yml:3:", "pull_policy ([always]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([if-not-present])"}},
		// As gitlab-runner: the intersection of the file's list and the allowed ones.
		{name: "intersected", policy: "[always, if-not-present]", config: `allowed_pull_policies = ["if-not-present"]`, present: true},
		{name: "runner always, present", config: `pull_policy = "always"`, present: true, pulls: 1},
		{name: "runner if-not-present, present", config: `pull_policy = "if-not-present"`, present: true},
		{name: "runner never, absent", config: `pull_policy = ["never"]`, code: 1, contains: []string{"is not present locally"}},
		{name: "yaml overrides runner", policy: "never", config: "pull_policy = \"always\"\nallowed_pull_policies = [\"always\", \"never\"]", present: true},
		// As gitlab-runner: without allowed_pull_policies, pull_policy is the allow-list.
		{name: "yaml outside runner pull_policy", policy: "never", config: `pull_policy = "always"`, present: true, code: 2,
			contains: []string{"pull_policy ([never]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([always])"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := pushPrivate(t)
			if tt.present {
				fetchPrivate(t, img)
			}
			sb := newRegSandbox(t)
			sb.writeConfig(reg.good())
			image := img.ref
			if tt.policy != "" {
				image = "\n    name: " + img.ref + "\n    pull_policy: " + tt.policy
			}
			p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(image, ""))
			args := []string{"exec"}
			if tt.config != "" {
				args = append(args, "--config", sb.runnerConfig("[[runners]]\n[runners.docker]\n"+tt.config+"\n"))
			}
			run := p.runIn
			if tt.code != 0 {
				run = p.runNothingStarts
			}
			r := run(sb, args...)
			wantCode(t, r, tt.code)
			wantPulls(t, r, tt.pulls)
			mustContain(t, r, tt.contains...)
			if tt.code == 0 {
				mustContain(t, r, "ran-in-private-image\n")
			} else {
				mustNotContain(t, r, "ran-in-private-image\n")
			}
			if tt.code == 2 && r.stdout != "" {
				t.Errorf("an invalid file printed on stdout (something ran?)\n%s", r)
			}
		})
	}
}

// TestRegistryPullPolicyListFallsBackWhenRegistryIsDown: gitlab-runner's
// pull_policy = ["always", "if-not-present"] uses the local image when the
// registry cannot be reached; "always" alone fails.
func TestRegistryPullPolicyListFallsBackWhenRegistryIsDown(t *testing.T) {
	t.Parallel()
	testReg(t)
	const down = "127.0.0.1:5999"
	ref := fmt.Sprintf("%s/private/busybox:fallback-%d-%d", down, os.Getpid(), imageSeq.Add(1))
	mustDockerCLI(t, "", "tag", "busybox:1.35", ref)
	t.Cleanup(func() { _, _ = dockerCLI(t, "", "rmi", ref) })
	for _, tt := range []struct {
		policy string
		code   int
		want   []string
	}{
		{`["always", "if-not-present"]`, 0, []string{"Using the local " + ref, "registry unreachable", "ran-in-private-image\n"}},
		{`"always"`, 1, []string{"pulling image " + ref, "registry " + down, "registry unreachable"}},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			t.Parallel()
			sb := newRegSandbox(t)
			p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(ref, ""))
			run := p.runIn
			if tt.code != 0 {
				run = p.runNothingStarts
			}
			r := run(sb, "exec", "--config", sb.runnerConfig("[[runners]]\n[runners.docker]\npull_policy = "+tt.policy+"\n"))
			wantCode(t, r, tt.code)
			wantPulls(t, r, 1)
			mustContain(t, r, tt.want...)
		})
	}
}

func TestRegistryDigestReferences(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	img := pushUnique(t)
	for _, ref := range []string{img.repo + "@" + img.digest, img.ref + "@" + img.digest} {
		t.Run(strings.TrimPrefix(ref, img.repo), func(t *testing.T) {
			removePrivate(t, img)
			sb := newRegSandbox(t)
			sb.writeConfig(reg.good())
			p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(ref, ""))
			r := p.runIn(sb, "exec")
			wantCode(t, r, 0)
			wantPulls(t, r, 1)
			mustContain(t, r, "Pulling "+ref+" with credentials from ", "ran-in-private-image\n")
			// Present now: a digest is never re-pulled by the default rule.
			r = p.runIn(sb, "exec")
			wantCode(t, r, 0)
			wantPulls(t, r, 0)
		})
	}
	t.Run("unknown digest", func(t *testing.T) {
		sb := newRegSandbox(t)
		sb.writeConfig(reg.good())
		ref := img.repo + "@sha256:" + strings.Repeat("0", 64)
		p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(ref, ""))
		r := p.runIn(sb, "exec")
		wantCode(t, r, 1)
		mustContain(t, r, "pulling image "+ref, "registry "+reg.addr, "not found")
	})
}

func TestRegistryDronePullSecrets(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	img := pushPrivate(t)
	sb := newRegSandbox(t)
	sb.writeConfig(reg.wrong()) // lower priority than the secret
	cfg := sb.writeFile("dockerconfig.json", reg.good()+"\n")
	p := newProject(t, ".drone.yml", privateDroneStep(img.ref, "image_pull_secrets:\n- dockerconfig\n"))

	r := p.runIn(sb, "exec", "--secret", "dockerconfig=@"+cfg)
	wantCode(t, r, 0)
	wantPulls(t, r, 1)
	mustContain(t, r, "Pulling "+img.ref+" with credentials from secret dockerconfig\n", "ran-in-private-image\n")

	removePrivate(t, img)
	r = p.runIn(sb, "exec")
	wantCode(t, r, 2) // refused before anything starts
	mustContain(t, r, `image_pull_secrets: secret "dockerconfig" was not given (use --secret dockerconfig=@config.json)`)
	mustNotContain(t, r, "Running job")
	mustNotContain(t, r, "ran-in-private-image\n")

	removePrivate(t, img)
	r = p.runIn(sb, "exec", "--secret", "dockerconfig="+reg.wrong())
	wantCode(t, r, 1)
	mustContain(t, r, "registry "+reg.addr+" (credentials from secret dockerconfig)", "authentication failed")
}

func TestRegistryDrone0xAuthConfig(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	step, svc := pushPrivate(t), pushPrivate(t)
	sb := newRegSandbox(t)
	sb.writeConfig(reg.wrong()) // auth_config beats everything
	creds := func(password string) string {
		return "    auth_config:\n      username: " + reg.user + "\n      password: " + password + "\n"
	}
	yml := func(password string) string {
		return "services:\n  private:\n    image: " + svc.ref + "\n    command: [sleep, \"60\"]\n" + creds(password) +
			"pipeline:\n  test:\n    image: " + step.ref + "\n" + creds(password) +
			"    commands:\n      - echo ran-in-private-image\n"
	}
	p := newProject(t, ".drone.yml", yml(reg.password))
	r := p.runIn(sb, "exec")
	wantCode(t, r, 0)
	wantPulls(t, r, 2)
	mustContain(t, r,
		"Pulling "+step.ref+" with credentials from auth_config in the pipeline\n",
		"Pulling "+svc.ref+" with credentials from auth_config in the pipeline\n",
		"ran-in-private-image\n")

	lint := p.runIn(sb, "lint")
	wantCode(t, lint, 0)

	removePrivate(t, step)
	removePrivate(t, svc)
	p = newProject(t, ".drone.yml", yml(wrongPassword))
	r = p.runIn(sb, "exec")
	wantCode(t, r, 1)
	mustContain(t, r, "(credentials from auth_config in the pipeline)", "authentication failed")
}

func TestRegistrySameImagePulledOnce(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	img := pushPrivate(t)
	sb := newRegSandbox(t)
	sb.writeConfig(reg.good())
	p := newProject(t, ".gitlab-ci.yml", `
stages: [build, test]
build:
  stage: build
  image: `+img.ref+`
  services:
    - name: `+img.ref+`
      alias: side
      command: ["sleep", "60"]
  script: [echo ran-build]
test-a:
  stage: test
  image:
    name: `+img.ref+`
    pull_policy: always
  script: [echo ran-a]
test-b:
  stage: test
  image: `+img.ref+`
  script: [echo ran-b]
`)
	w := watchCreations(t)
	r := p.runIn(sb, "exec", "--concurrency", "2")
	wantCode(t, r, 0)
	if n := w.count(r.owner); n < 4 { // a service and three steps
		t.Errorf("the engine's events show %d containers created, want at least 4", n)
	}
	wantPulls(t, r, 1)
	mustContain(t, r, "ran-build\n", "ran-a\n", "ran-b\n")

	img2 := pushPrivate(t)
	d := newProject(t, ".drone.yml", privateDroneStep(img2.ref, "services:\n- name: side\n  image: "+img2.ref+"\n  command: [sleep, \"60\"]\n"))
	r = d.runIn(sb, "exec")
	wantCode(t, r, 0)
	wantPulls(t, r, 1)
}

// TestRegistryImageDecisionsAcrossJobs: each job pulls with its own
// credentials, so another job's failed pull is not its failure; a local
// image one job's policy accepted is pulled for a job that says always;
// an image pulled once in the run is not pulled again.
func TestRegistryImageDecisionsAcrossJobs(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	img := pushPrivate(t)
	sb := newRegSandbox(t)
	job := func(name, extra string) string {
		return name + ":\n  image:\n    name: " + img.ref + "\n" + extra + "  script: [echo ran-" + name + "]\n"
	}
	p := newProject(t, ".gitlab-ci.yml", job("wrong", "  variables:\n    DOCKER_AUTH_CONFIG: '"+reg.wrong()+"'\n")+
		job("right", "  variables:\n    DOCKER_AUTH_CONFIG: '"+reg.good()+"'\n")+
		job("again", "    pull_policy: always\n  variables:\n    DOCKER_AUTH_CONFIG: '"+reg.good()+"'\n"))
	r := p.runIn(sb, "exec")
	wantCode(t, r, 1)
	wantPulls(t, r, 2)
	mustContain(t, r, `Job "wrong" failed`, "authentication failed", `Job "right" passed`, "ran-right\n", `Job "again" passed`, "ran-again\n")

	present := newProject(t, ".gitlab-ci.yml", job("local", "    pull_policy: if-not-present\n")+
		job("fresh", "    pull_policy: always\n")+job("fresh-too", "    pull_policy: always\n"))
	sb.writeConfig(reg.good())
	r = present.runIn(sb, "exec")
	wantCode(t, r, 0)
	wantPulls(t, r, 1)
	mustContain(t, r, "ran-local\n", "ran-fresh\n", "ran-fresh-too\n", "(the local image was up to date)")
}

// TestRegistryCredentialsNeverPrinted: the pull names the source, and no
// credential appears anywhere, in exec or lint, from any source.
func TestRegistryCredentialsNeverPrinted(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	img := pushPrivate(t)
	sb := newRegSandbox(t)
	sb.writeConfig(reg.wrong())
	p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, authVariable(reg.good())))
	cfgFile := sb.runnerConfig(runnerEnv(reg.wrong()))
	secretFile := sb.writeFile("dockerconfig.json", reg.good())
	args := []string{"--config", cfgFile, "--env", "DOCKER_AUTH_CONFIG=" + reg.good(), "--secret", "dockerconfig=@" + secretFile}

	r := p.runIn(sb, append([]string{"lint"}, args...)...)
	wantCode(t, r, 0)
	mustContain(t, r, img.ref)
	r = p.runIn(sb, append([]string{"exec"}, args...)...)
	wantCode(t, r, 0)
	mustContain(t, r, "with credentials from "+srcVariable)

	d := newProject(t, ".drone.yml", privateDroneStep(img.ref, "image_pull_secrets: [dockerconfig]\n"))
	r = d.runIn(sb, append([]string{"lint"}, args...)...)
	wantCode(t, r, 0)
	mustContain(t, r, img.ref)

	// A malformed DOCKER_AUTH_CONFIG is reported without quoting it.
	removePrivate(t, img)
	broken := `{"auths":{"` + reg.addr + `":{"auth":"` + reg.password + `"}}}`
	p = newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, authVariable(broken)))
	r = p.runIn(sb, "exec")
	wantCode(t, r, 1)
	mustContain(t, r, srcVariable, reg.addr)
}

// TestRegistryPullProgress: a terminal gets a line per layer as it is
// downloaded and extracted; anything else gets only the start and the end.
func TestRegistryPullProgress(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	// A layer of its own, so that there is something to download.
	img := pushUnique(t, "RUN head -c 3000000 /dev/urandom > /blob")
	sb := newRegSandbox(t)
	sb.writeConfig(reg.good())
	p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, ""))

	r := p.runTerminal(sb, "exec")
	wantCode(t, r, 0)
	out := strings.ReplaceAll(r.stdout, "\r\n", "\n")
	for _, re := range []string{
		`(?m)^Pulling ` + regexp.QuoteMeta(img.ref) + ` with credentials from `,
		`(?m)^  [0-9a-f]{12}: (Downloading [0-9.]+[kMG]?B/[0-9.]+[kMG]?B|Download complete)$`,
		`(?m)^  [0-9a-f]{12}: Pull complete$`,
		`(?m)^  Digest: sha256:[0-9a-f]{64}$`,
		`(?m)^Pulled ` + regexp.QuoteMeta(img.ref) + ` in [0-9.]+m?s$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("terminal output lacks %s\n%s", re, r)
		}
	}

	removePrivate(t, img)
	r = p.runIn(sb, "exec")
	wantCode(t, r, 0)
	mustNotContain(t, r, "Downloading", "Pull complete", "Digest:")
	if n := strings.Count(r.stdout, img.ref); n != 3 { // Running job ... in, Pulling, Pulled
		t.Errorf("%d lines name the image, want 3 (job start, pull start, pull end)\n%s", n, r)
	}
	if !pulledLine.MatchString(r.stdout) {
		t.Errorf("no Pulled line with the duration\n%s", r)
	}
}

// runTerminal runs slipway with its standard output and error on a
// pseudo-terminal, like a user at a shell.
func (p *project) runTerminal(sb *regSandbox, args ...string) result {
	p.t.Helper()
	ptmx, tty, err := openPTY()
	if err != nil {
		p.t.Fatalf("pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(slipway, args...)
	cmd.Dir = p.dir
	cmd.Env = append(append(os.Environ(), sb.env()...), "TERM=xterm")
	cmd.Stdout, cmd.Stderr = tty, tty
	if err := cmd.Start(); err != nil {
		tty.Close()
		p.t.Fatal(err)
	}
	tty.Close()
	var out strings.Builder
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, ptmx) // ends with EIO once the process is gone
		close(copied)
	}()
	owner := engine.OwnerOf(cmd.Process.Pid) // before Wait reaps it
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		p.t.Fatal("the pseudo-terminal did not close")
	}
	r := result{code: code, stdout: out.String(), owner: owner}
	p.t.Logf("slipway %s (on a terminal)\n%s", strings.Join(args, " "), r)
	assertNothingLeft(p.t, r.owner)
	mustNotContain(p.t, r, testReg(p.t).secrets()...)
	return r
}

// openPTY opens a pseudo-terminal pair (what posix_openpt, unlockpt and
// ptsname do).
func openPTY() (ptmx, tty *os.File, err error) {
	ptmx, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	ioctl := func(req uintptr, arg unsafe.Pointer) error {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), req, uintptr(arg)); e != 0 {
			return e
		}
		return nil
	}
	var unlock int32
	var n uint32
	if err = ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err == nil {
		err = ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n))
	}
	if err == nil {
		tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	return ptmx, tty, nil
}
