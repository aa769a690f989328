package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

// b64 is an auths entry's "auth" value.
func b64(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// auths is a config.json with one base64 "auth" entry per key, user:pass
// taken from the map value ("user:pass").
func auths(entries map[string]string) string {
	m := map[string]map[string]string{}
	for host, up := range entries {
		user, pass, _ := strings.Cut(up, ":")
		m[host] = map[string]string{"auth": b64(user, pass)}
	}
	data, _ := json.Marshal(map[string]any{"auths": m})
	return string(data)
}

// writeConfig puts a config.json in dir/.docker (HOME layout) and returns dir.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func resolve(t *testing.T, image string, sources []Source) (Auth, bool, error) {
	t.Helper()
	return Resolve(context.Background(), mustParse(t, image), sources, func(w string) { t.Log("warning: " + w) })
}

const private = "registry.example.com:5000/namespace/image:tag"

func TestResolvePrecedence(t *testing.T) {
	const host = "registry.example.com:5000"
	home := writeConfig(t, auths(map[string]string{host: "file-user:file-pass"}))
	dockerConfig := filepath.Join(writeConfig(t, auths(map[string]string{host: "dc-user:dc-pass"})), ".docker")
	// The runner process's own variable must be ignored (seed 003: the
	// runner reads DOCKER_AUTH_CONFIG only from its configuration).
	t.Setenv("DOCKER_AUTH_CONFIG", auths(map[string]string{host: "process-user:process-pass"}))

	job := AuthConfigVar + "=" + auths(map[string]string{host: "job-user:job-pass"})
	jobOther := AuthConfigVar + "=" + auths(map[string]string{"other.example.com": "x:x"})
	runner := AuthConfigVar + "=" + auths(map[string]string{host: "runner-user:runner-pass"})
	secret := func(name, user string) PullSecret {
		return PullSecret{Name: name, Value: auths(map[string]string{host: user + ":" + user + "-pass"})}
	}
	otherSecret := PullSecret{Name: "elsewhere", Value: auths(map[string]string{"docker.io": "hub:hub"})}
	inline := &pipeline.Credentials{Username: "inline-user", Password: "inline-pass"}

	tests := []struct {
		name       string
		o          Origins
		wantUser   string
		wantSource string
	}{
		{"nothing", Origins{Getenv: env()}, "", ""},
		{"home config", Origins{Getenv: env("HOME", home)}, "file-user", filepath.Join(home, ".docker", "config.json")},
		{"DOCKER_CONFIG beats HOME", Origins{Getenv: env("HOME", home, "DOCKER_CONFIG", dockerConfig)}, "dc-user", filepath.Join(dockerConfig, "config.json")},
		{"missing config file is no match", Origins{Getenv: env("HOME", t.TempDir())}, "", ""},
		{"runner env beats file", Origins{RunnerEnv: []string{"A=b", runner}, Getenv: env("HOME", home)}, "runner-user", "DOCKER_AUTH_CONFIG in the runner configuration's environment"},
		{"job variable beats runner env", Origins{JobEnv: []string{job}, RunnerEnv: []string{runner}, Getenv: env("HOME", home)}, "job-user", "DOCKER_AUTH_CONFIG variable"},
		{"job variable for another host passes on", Origins{JobEnv: []string{jobOther}, RunnerEnv: []string{runner}, Getenv: env("HOME", home)}, "runner-user", "DOCKER_AUTH_CONFIG in the runner configuration's environment"},
		{"last job variable wins", Origins{JobEnv: []string{jobOther, job}}, "job-user", "DOCKER_AUTH_CONFIG variable"},
		{"pull secrets beat runner", Origins{PullSecrets: []PullSecret{secret("one", "s1")}, RunnerEnv: []string{runner}, Getenv: env("HOME", home)}, "s1", "secret one"},
		{"pull secrets in order", Origins{PullSecrets: []PullSecret{secret("one", "s1"), secret("two", "s2")}}, "s1", "secret one"},
		{"pull secret without the host passes on", Origins{PullSecrets: []PullSecret{otherSecret, secret("two", "s2")}}, "s2", "secret two"},
		{"job variable beats pull secrets", Origins{JobEnv: []string{job}, PullSecrets: []PullSecret{secret("one", "s1")}}, "job-user", "DOCKER_AUTH_CONFIG variable"},
		{"auth_config beats everything", Origins{Inline: inline, JobEnv: []string{job}, PullSecrets: []PullSecret{secret("one", "s1")}, RunnerEnv: []string{runner}, Getenv: env("HOME", home)}, "inline-user", "auth_config in the pipeline"},
		{"empty auth_config passes on", Origins{Inline: &pipeline.Credentials{}, JobEnv: []string{job}}, "job-user", "DOCKER_AUTH_CONFIG variable"},
		{"empty job variable passes on", Origins{JobEnv: []string{AuthConfigVar + "="}, RunnerEnv: []string{runner}}, "runner-user", "DOCKER_AUTH_CONFIG in the runner configuration's environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok, err := resolve(t, private, tt.o.Sources())
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.wantUser != "") || a.Username != tt.wantUser || a.Source != tt.wantSource {
				t.Fatalf("got ok=%v user=%q source=%q; want user=%q source=%q", ok, a.Username, a.Source, tt.wantUser, tt.wantSource)
			}
			if ok && (a.Password != tt.wantUser+"-pass" && a.Password != strings.Replace(tt.wantUser, "user", "pass", 1)) {
				t.Errorf("password does not belong to %s", tt.wantUser)
			}
			if ok && a.ServerAddress != host {
				t.Errorf("ServerAddress = %q, want %q", a.ServerAddress, host)
			}
		})
	}
}

func TestResolveHostMatching(t *testing.T) {
	tests := []struct {
		key, image string
		match      bool
	}{
		{"registry.example.com:5000", private, true},
		{"registry.example.com", private, false},
		{"registry.example.com:5001", private, false},
		{"registry.example.com:5000", "registry.example.com/namespace/image", false},
		{"registry.example.com", "registry.example.com/namespace/image", true},
		{"https://registry.example.com:5000", private, true},
		{"https://registry.example.com:5000/v2/", private, true},
		{"http://registry.example.com/", private, false},
		{"example.com", private, false},
		{"registry.example.com:5000", "golang", false},
		{"docker.company.com", "docker.company.com/golang", true},
		{"localhost:5000", "localhost:5000/app", true},
		{"localhost", "localhost:5000/app", false},
	}
	for _, tt := range tests {
		src := []Source{{Name: "cfg", Config: []byte(auths(map[string]string{tt.key: "u:p"}))}}
		_, ok, err := resolve(t, tt.image, src)
		if err != nil || ok != tt.match {
			t.Errorf("key %q image %q: ok=%v err=%v, want match=%v", tt.key, tt.image, ok, err, tt.match)
		}
	}
}

func TestResolveDockerHubAliases(t *testing.T) {
	keys := []string{"docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "https://index.docker.io/v1", "https://registry-1.docker.io/v2/"}
	images := []string{"golang", "library/golang:1.7", "octocat/private", "index.docker.io/library/golang", "docker.io/octocat/private:1", "registry-1.docker.io/library/golang"}
	for _, key := range keys {
		for _, image := range images {
			src := []Source{{Name: "cfg", Config: []byte(auths(map[string]string{key: "hub-user:hub-pass"}))}}
			a, ok, err := resolve(t, image, src)
			if err != nil || !ok || a.Username != "hub-user" || a.ServerAddress != hubKey {
				t.Errorf("key %q image %q: %v ok=%v err=%v, want hub-user for %s", key, image, a, ok, err, hubKey)
			}
		}
		// ...and never a registry that only looks like Docker Hub.
		src := []Source{{Name: "cfg", Config: []byte(auths(map[string]string{key: "hub-user:hub-pass"}))}}
		if _, ok, _ := resolve(t, "docker.company.com/golang", src); ok {
			t.Errorf("key %q matched docker.company.com", key)
		}
	}
}

func TestResolveKeyPreferenceIsDeterministic(t *testing.T) {
	// Several spellings of one registry: Docker's own key wins, then the
	// bare host, then the others sorted, whatever the map order.
	tests := []struct {
		entries map[string]string
		image   string
		want    string
	}{
		{map[string]string{"docker.io": "a:1", "https://index.docker.io/v1/": "b:2", "index.docker.io": "c:3"}, "golang", "b"},
		{map[string]string{"docker.io": "a:1", "registry-1.docker.io": "c:3"}, "golang", "a"},
		{map[string]string{"https://r.example.com/v2/": "a:1", "r.example.com": "b:2", "http://r.example.com": "c:3"}, "r.example.com/x", "b"},
		{map[string]string{"https://r.example.com/v2/": "a:1", "http://r.example.com": "c:3"}, "r.example.com/x", "c"},
	}
	for _, tt := range tests {
		for range 20 {
			a, _, err := resolve(t, tt.image, []Source{{Name: "cfg", Config: []byte(auths(tt.entries))}})
			if err != nil || a.Username != tt.want {
				t.Fatalf("%v: got %q, %v; want %q", tt.entries, a.Username, err, tt.want)
			}
		}
	}
}

func TestResolveAuthsEntryForms(t *testing.T) {
	const host = "registry.example.com:5000"
	tests := []struct {
		name, entry          string
		ok                   bool
		user, pass, identity string
	}{
		{"auth base64", `{"auth":"` + b64("my_username", "my_password") + `"}`, true, "my_username", "my_password", ""},
		{"seed 003 example", `{"auth":"bXlfdXNlcm5hbWU6bXlfcGFzc3dvcmQ="}`, true, "my_username", "my_password", ""},
		{"password with colon", `{"auth":"` + b64("u", "pa:ss") + `"}`, true, "u", "pa:ss", ""},
		{"username and password fields", `{"username":"u2","password":"p2"}`, true, "u2", "p2", ""},
		{"auth beats fields", `{"auth":"` + b64("u", "p") + `","username":"x","password":"y"}`, true, "u", "p", ""},
		{"identity token", `{"identitytoken":"tok"}`, true, "", "", "tok"},
		{"empty placeholder", `{}`, false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := `{"auths":{"` + host + `":` + tt.entry + `}}`
			a, ok, err := resolve(t, private, []Source{{Name: "cfg", Config: []byte(cfg)}})
			if err != nil || ok != tt.ok || a.Username != tt.user || a.Password != tt.pass || a.IdentityToken != tt.identity {
				t.Fatalf("got ok=%v err=%v user=%q pass=%q token=%q", ok, err, a.Username, a.Password, a.IdentityToken)
			}
		})
	}
}

func TestResolveInvalidSourceNamesItNeverItsContent(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"syntax", `{"auths":{"registry.example.com:5000":{"auth":"c2VjcmV0LXB3"}}`, "DOCKER_AUTH_CONFIG variable: not valid JSON"},
		{"trailing garbage", `{"auths":{}} secret-pw`, "not valid JSON (at byte 14)"},
		{"not an object", `"secret-pw"`, "want a JSON object"},
		{"wrong type quotes no value", `{"auths":{"registry.example.com:5000":{"auth":12345678}}}`, `"auths.auth" has the wrong type`},
		{"bad base64", `{"auths":{"registry.example.com:5000":{"auth":"secret-pw!!"}}}`, `the "auth" of "registry.example.com:5000" is not valid base64`},
		{"no colon", `{"auths":{"a.example.com":{"auth":"` + b64("u", "p") + `"},"registry.example.com:5000":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("secret-pw")) + `"}}}`, `the "auth" of "registry.example.com:5000" is not base64 of "username:password"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As gitlab-runner, a broken source is skipped with a warning
			// and the next one is used.
			o := Origins{JobEnv: []string{AuthConfigVar + "=" + tt.config}, RunnerEnv: []string{AuthConfigVar + "=" + auths(map[string]string{"registry.example.com:5000": "u:p"})}}
			var warns []string
			a, ok, err := Resolve(context.Background(), mustParse(t, private), o.Sources(), func(w string) { warns = append(warns, w) })
			if err != nil || !ok || a.Username != "u" || len(warns) != 1 {
				t.Fatalf("ok=%v err=%v warnings %q; want the lower-priority source and one warning", ok, err, warns)
			}
			msg := warns[0]
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, "DOCKER_AUTH_CONFIG variable") {
				t.Errorf("err = %q, want it to contain %q and name the source", msg, tt.want)
			}
			for _, secret := range []string{"secret-pw", "c2VjcmV0LXB3", "12345678"} {
				if strings.Contains(msg, secret) {
					t.Errorf("err = %q reveals %q", msg, secret)
				}
			}
		})
	}
}

func TestResolveInvalidLowerSourceIsNotReached(t *testing.T) {
	src := []Source{
		{Name: "good", Config: []byte(auths(map[string]string{"registry.example.com:5000": "u:p"}))},
		{Name: "bad", Config: []byte(`{`)},
	}
	if a, ok, err := resolve(t, private, src); err != nil || !ok || a.Source != "good" {
		t.Fatalf("got %v ok=%v err=%v", a, ok, err)
	}
}

func TestResolveUnreadableFile(t *testing.T) {
	dir := t.TempDir() // a directory where the file should be
	var warns []string
	_, ok, err := Resolve(context.Background(), mustParse(t, private), []Source{{Name: dir, Path: dir}}, func(w string) { warns = append(warns, w) })
	if err != nil || ok || len(warns) != 1 || !strings.Contains(warns[0], dir) {
		t.Fatalf("ok=%v err=%v warnings %q, want one warning naming %s", ok, err, warns, dir)
	}
}

// installHelper puts docker-credential-slipwaytest first on PATH. It knows
// registry.example.com:5000, Docker Hub and an identity-token host; it logs
// every server URL it is asked about to the returned file.
func installHelper(t *testing.T) (logFile string) {
	t.Helper()
	dir := t.TempDir()
	logFile = filepath.Join(dir, "asked")
	script := `#!/bin/sh
[ "$1" = get ] || { echo "unsupported action $1"; exit 1; }
read -r url
echo "$url" >> "` + logFile + `"
case "$url" in
registry.example.com:5000) echo '{"ServerURL":"registry.example.com:5000","Username":"helper-user","Secret":"helper-secret"}' ;;
https://index.docker.io/v1/) echo '{"ServerURL":"https://index.docker.io/v1/","Username":"hub-user","Secret":"hub-secret"}' ;;
token.example.com) echo '{"ServerURL":"token.example.com","Username":"<token>","Secret":"refresh-secret"}' ;;
broken.example.com) echo "helper-secret leaked on failure" >&2; echo "helper-secret leaked"; exit 2 ;;
garbage.example.com) echo "helper-secret not json" ;;
*) echo "credentials not found in native keychain"; exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-slipwaytest"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return logFile
}

func asked(t *testing.T, logFile string) []string {
	data, err := os.ReadFile(logFile)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

func TestResolveCredentialHelpers(t *testing.T) {
	const host = "registry.example.com:5000"
	authsHost := `"auths":{"` + host + `":{"auth":"` + b64("auths-user", "auths-pass") + `"}}`
	tests := []struct {
		name, config, image string
		wantUser, wantPass  string
		wantToken           string
		wantAsked           []string
	}{
		{"credHelpers", `{"credHelpers":{"` + host + `":"slipwaytest"}}`, private, "helper-user", "helper-secret", "", []string{host}},
		{"credsStore", `{"credsStore":"slipwaytest"}`, private, "helper-user", "helper-secret", "", []string{host}},
		{"credHelpers beats auths", `{"credHelpers":{"` + host + `":"slipwaytest"},` + authsHost + `}`, private, "helper-user", "helper-secret", "", []string{host}},
		// gitlab-runner's order: credsStore overrides auths.
		{"credsStore beats auths", `{"credsStore":"slipwaytest",` + authsHost + `}`, private, "helper-user", "helper-secret", "", []string{host}},
		{"credsStore without the host goes on to auths", `{"credsStore":"slipwaytest","auths":{"other.example.com":{"auth":"` + b64("a", "b") + `"}}}`, "other.example.com/x", "a", "b", "", []string{"other.example.com"}},
		{"credHelpers beats credsStore", `{"credsStore":"nonexistent","credHelpers":{"` + host + `":"slipwaytest"}}`, private, "helper-user", "helper-secret", "", []string{host}},
		{"credHelpers for another host is skipped", `{"credHelpers":{"registry.example.com":"nonexistent"},` + authsHost + `}`, private, "auths-user", "auths-pass", "", nil},
		{"placeholder auths entry defers to credsStore", `{"credsStore":"slipwaytest","auths":{"` + host + `":{}}}`, private, "helper-user", "helper-secret", "", []string{host}},
		{"helper not found goes on to auths", `{"credHelpers":{"other.example.com":"slipwaytest"},"auths":{"other.example.com":{"auth":"` + b64("a", "b") + `"}}}`, "other.example.com/x", "a", "b", "", []string{"other.example.com"}},
		{"credHelpers without the host goes on to credsStore", `{"credHelpers":{"other.example.com":"slipwaytest"},"credsStore":"slipwaytest"}`, "other.example.com/x", "", "", "", []string{"other.example.com", "other.example.com"}},
		{"empty credHelpers entry opts out of credsStore", `{"credHelpers":{"` + host + `":""},"credsStore":"slipwaytest"}`, private, "", "", "", nil},
		{"empty credHelpers entry still uses auths", `{"credHelpers":{"` + host + `":""},"credsStore":"slipwaytest",` + authsHost + `}`, private, "auths-user", "auths-pass", "", nil},
		{"credsStore not found is no match", `{"credsStore":"slipwaytest"}`, "other.example.com/x", "", "", "", []string{"other.example.com"}},
		{"Docker Hub is asked as its v1 URL", `{"credHelpers":{"docker.io":"slipwaytest"}}`, "golang", "hub-user", "hub-secret", "", []string{hubKey}},
		{"Docker Hub via credsStore", `{"credsStore":"slipwaytest"}`, "index.docker.io/library/golang:1.7", "hub-user", "hub-secret", "", []string{hubKey}},
		{"identity token", `{"credsStore":"slipwaytest"}`, "token.example.com/x", "", "", "refresh-secret", []string{"token.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logFile := installHelper(t)
			a, ok, err := resolve(t, tt.image, []Source{{Name: "cfg", Config: []byte(tt.config)}})
			if err != nil {
				t.Fatal(err)
			}
			want := tt.wantUser != "" || tt.wantToken != ""
			if ok != want || a.Username != tt.wantUser || a.Password != tt.wantPass || a.IdentityToken != tt.wantToken {
				t.Fatalf("ok=%v user=%q pass=%q token=%q; want user=%q pass=%q token=%q", ok, a.Username, a.Password, a.IdentityToken, tt.wantUser, tt.wantPass, tt.wantToken)
			}
			if got := asked(t, logFile); strings.Join(got, " ") != strings.Join(tt.wantAsked, " ") {
				t.Errorf("helper asked about %q, want %q", got, tt.wantAsked)
			}
		})
	}
}

func TestResolveHelperNotFoundFallsToNextSource(t *testing.T) {
	installHelper(t)
	src := []Source{
		{Name: "first", Config: []byte(`{"credsStore":"slipwaytest"}`)},
		{Name: "second", Config: []byte(auths(map[string]string{"other.example.com": "u:p"}))},
	}
	a, ok, err := resolve(t, "other.example.com/x", src)
	if err != nil || !ok || a.Source != "second" {
		t.Fatalf("got %v ok=%v err=%v; want the second source", a, ok, err)
	}
}

func TestResolveHelperErrors(t *testing.T) {
	tests := []struct {
		name, config, image string
		want                []string
	}{
		{"missing from PATH", `{"credHelpers":{"registry.example.com:5000":"nosuchhelper"}}`, private,
			[]string{"credential helper docker-credential-nosuchhelper (credHelpers in DOCKER_AUTH_CONFIG variable) failed for registry.example.com:5000: it is not in $PATH"}},
		{"credsStore missing from PATH", `{"credsStore":"nosuchhelper"}`, "golang",
			[]string{"docker-credential-nosuchhelper (credsStore in DOCKER_AUTH_CONFIG variable) failed for docker.io: it is not in $PATH"}},
		{"helper fails", `{"credsStore":"slipwaytest"}`, "broken.example.com/x",
			[]string{"credential helper docker-credential-slipwaytest (credsStore in DOCKER_AUTH_CONFIG variable) failed for broken.example.com: exit status 2", "echo broken.example.com | docker-credential-slipwaytest get"}},
		{"helper answers garbage", `{"credsStore":"slipwaytest"}`, "garbage.example.com/x",
			[]string{"docker-credential-slipwaytest", "garbage.example.com", "not credentials JSON"}},
		{"helper name with a path", `{"credsStore":"../../bin/sh"}`, private,
			[]string{`credsStore in DOCKER_AUTH_CONFIG variable: "../../bin/sh" is not a credential helper name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			installHelper(t)
			o := Origins{
				JobEnv:    []string{AuthConfigVar + "=" + tt.config},
				RunnerEnv: []string{AuthConfigVar + "=" + auths(map[string]string{"registry.example.com:5000": "u:p", "docker.io": "u:p"})},
			}
			_, ok, err := resolve(t, tt.image, o.Sources())
			if err == nil || ok {
				t.Fatalf("ok=%v err=%v; want an error, not the lower source", ok, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "helper-secret") {
				t.Errorf("err = %q reveals the helper's output", err)
			}
		})
	}
}

func TestResolveHelperCancelled(t *testing.T) {
	installHelper(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Resolve(ctx, mustParse(t, private), []Source{{Name: "cfg", Config: []byte(`{"credsStore":"slipwaytest"}`)}}, nil)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v, want context canceled", err)
	}
}

func TestResolveZeroReference(t *testing.T) {
	if _, _, err := Resolve(context.Background(), Reference{}, nil, nil); err == nil {
		t.Fatal("want an error")
	}
}

func TestAuthNeverPrintsSecrets(t *testing.T) {
	a := Auth{Username: "the-user", Password: "hunter2-pw", IdentityToken: "id-tok-secret", RegistryToken: "reg-tok-secret", ServerAddress: "registry.example.com:5000", Source: "DOCKER_AUTH_CONFIG variable"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("pull", "auth", a, "ptr", &a)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("pull", "auth", a)
	js, _ := json.Marshal(struct{ A Auth }{a})
	outputs := []string{
		fmt.Sprintf("%v %+v %#v %s %q %x %X %d %10.3v", a, a, a, a, a, a, a, a, a),
		fmt.Sprintf("%v %+v %#v %s", &a, &a, &a, &a),
		fmt.Sprintf("%v %+v %#v", []Auth{a}, map[string]Auth{"k": a}, struct{ A Auth }{a}),
		fmt.Sprint(a), fmt.Sprintln(a), a.String(), a.GoString(), string(js), logged.String(),
		fmt.Errorf("pull failed with %v", a).Error(),
	}
	for _, out := range outputs {
		for _, secret := range []string{"the-user", "hunter2-pw", "id-tok-secret", "reg-tok-secret"} {
			if strings.Contains(out, secret) {
				t.Errorf("output %q reveals %q", out, secret)
			}
		}
	}
	if want := "credentials for registry.example.com:5000 from DOCKER_AUTH_CONFIG variable"; a.String() != want {
		t.Errorf("String() = %q, want %q", a.String(), want)
	}
	if (Auth{}).String() != "no credentials" {
		t.Errorf("zero Auth prints %q", Auth{})
	}
}

func TestSourcesNeverPrintSecrets(t *testing.T) {
	cfg := auths(map[string]string{"r.example.com": "u:hunter2-pw"})
	o := Origins{
		Inline:      &pipeline.Credentials{Username: "u", Password: "hunter2-pw"},
		JobEnv:      []string{AuthConfigVar + "=" + cfg},
		PullSecrets: []PullSecret{{Name: "dockerconfig", Value: cfg}},
	}
	out := fmt.Sprintf("%v %+v %#v %s %d", o, o, o.Sources(), o.PullSecrets, o.Sources())
	for _, secret := range []string{"hunter2-pw", b64("u", "hunter2-pw")} {
		if strings.Contains(out, secret) {
			t.Errorf("%q reveals %q", out, secret)
		}
	}
	if !strings.Contains(out, "secret(dockerconfig)") || !strings.Contains(out, "source(auth_config in the pipeline)") {
		t.Errorf("%q should name the sources", out)
	}
}

func TestSecretValues(t *testing.T) {
	doc := `{"auths":{"r.example:5000":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("robot:pa55word")) + `"},"other":{"identitytoken":"tok-123"}}}`
	got := strings.Join(SecretValues([]byte(doc)), ",")
	for _, want := range []string{"pa55word", "robot:pa55word", "tok-123"} {
		if !strings.Contains(got, want) {
			t.Errorf("SecretValues = %s, lacks %s", got, want)
		}
	}
	for _, v := range SecretValues([]byte(doc)) {
		if v == "robot" {
			t.Error("the username alone is listed: it would mask image names")
		}
	}
	if len(SecretValues([]byte("not json"))) != 0 {
		t.Error("a broken document yields values")
	}
}
