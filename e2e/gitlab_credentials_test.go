package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestGitLabRunnerCredentialLookup: pulls from the private registry find
// their credentials as gitlab-runner finds them: credsStore before auths,
// the longest matching path of an auths key, URL keys normalised, host
// names without case, ~/.dockercfg as the last fallback, and a broken
// DOCKER_AUTH_CONFIG skipped with a warning rather than failing the pull.
func TestGitLabRunnerCredentialLookup(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	good, wrong := basicAuth(reg.user, reg.password), basicAuth(reg.user, wrongPassword)
	cfg := func(entries map[string]string) string {
		m := map[string]any{}
		for k, v := range entries {
			m[k] = map[string]string{"auth": v}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	withAuths := func(entries map[string]string) string { return `{"auths":` + cfg(entries) + `}` }
	tests := []struct {
		name       string
		config     string // config.json, "" none
		dockercfg  string // ~/.dockercfg, "" none
		variable   string // DOCKER_AUTH_CONFIG in the file, "" none
		helper     bool
		source     func(sb *regSandbox) string
		wantOutput []string
	}{
		{name: "credsStore beats auths", helper: true,
			config: `{"credsStore":"slipwaytest","auths":` + cfg(map[string]string{reg.addr: wrong}) + `}`},
		{name: "longest path wins",
			config: withAuths(map[string]string{reg.addr: wrong, reg.addr + "/private": good, reg.addr + "/private/busybox-other": wrong})},
		{name: "URL key", config: withAuths(map[string]string{"https://" + reg.addr + "/v1/": good})},
		{name: "dockercfg fallback", dockercfg: cfg(map[string]string{reg.addr: good}),
			source: func(sb *regSandbox) string { return filepath.Join(sb.home, ".dockercfg") }},
		{name: "broken variable skipped", variable: `{"auths": {`, config: withAuths(map[string]string{reg.addr: good}),
			wantOutput: []string{"WARNING: registry credentials in DOCKER_AUTH_CONFIG variable: not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := pushPrivate(t)
			sb := newRegSandbox(t)
			if tt.config != "" {
				sb.writeConfig(tt.config)
			}
			if tt.dockercfg != "" {
				sb.writeFile(".dockercfg", tt.dockercfg)
			}
			if tt.helper {
				sb.addHelper(reg.user, reg.password)
			}
			vars := ""
			if tt.variable != "" {
				vars = authVariable(tt.variable)
			}
			source := sb.configPath()
			if tt.source != nil {
				source = tt.source(sb)
			}
			p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, vars))
			r := p.runIn(sb, "exec")
			wantCode(t, r, 0)
			mustContain(t, r, append(tt.wantOutput, "Pulling "+img.ref+" with credentials from "+source+"\n", "ran-in-private-image\n")...)
		})
	}
}

// TestGitLabRunnerCredentialHostCase: an auths key in capitals matches the
// registry's host name written in lower case.
func TestGitLabRunnerCredentialHostCase(t *testing.T) {
	t.Parallel()
	reg := testReg(t)
	host, port, _ := strings.Cut(reg.addr, ":")
	if host != "127.0.0.1" && host != "localhost" {
		t.Fatalf("the test needs the registry on the loopback, not %s", reg.addr)
	}
	img := newPushed(t)
	img.repo = "localhost:" + port + strings.TrimPrefix(img.repo, reg.addr)
	img.ref = img.repo + ":" + img.tag
	mustDockerCLI(t, "", "tag", "busybox:1.35", img.ref)
	t.Cleanup(func() { removePrivate(t, img) })
	mustDockerCLI(t, dockerAuthConfig(img.repo[:strings.Index(img.repo, "/")], reg.user, reg.password), "push", img.ref)
	removePrivate(t, img)
	sb := newRegSandbox(t)
	sb.writeConfig(dockerAuthConfig("LocalHost:"+port, reg.user, reg.password))
	p := newProject(t, ".gitlab-ci.yml", privateGitLabJob(img.ref, ""))
	r := p.runIn(sb, "exec")
	wantCode(t, r, 0)
	mustContain(t, r, "Pulling "+img.ref+" with credentials from "+sb.configPath()+"\n", "ran-in-private-image\n")
}
