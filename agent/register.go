package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/slipway-ci/slipway/config"
)

// Registration is what `slipway runner register` was told.
type Registration struct {
	URL string
	// Token is a glrt- authentication token; RegistrationToken the legacy
	// registration token. One of them is set.
	Token, RegistrationToken string
	Name                     string
	Executor                 string
	DockerImage              string
	DockerServices           []string
	// Tags and RunUntagged go to the server with a registration token; a
	// glrt- token's live on the server.
	Tags        []string
	RunUntagged bool
	// ConfigPath is the file the entry is added to.
	ConfigPath string
}

// check refuses what gitlab-runner refuses.
func (r Registration) check() error {
	switch {
	case r.URL == "":
		return errors.New("--url is required")
	case (r.Token == "") == (r.RegistrationToken == ""):
		return errors.New("give one of --token (glrt-…) or --registration-token")
	case r.Token != "" && (len(r.Tags) > 0 || r.RunUntagged):
		return errors.New("--tag-list and --run-untagged cannot be used with an authentication token (--token): " +
			"they are the runner's settings on the server, given when the token was created")
	}
	return config.Runner{Executor: r.Executor}.Validate()
}

// Register registers with the server and adds the runner to the
// configuration file; it returns the entry written.
func Register(ctx context.Context, c *Client, r Registration) (config.Runner, error) {
	if err := r.check(); err != nil {
		return config.Runner{}, err
	}
	resp, err := obtain(ctx, c, r)
	if err != nil {
		return config.Runner{}, err
	}
	e := newEntry(r, resp.Token)
	e.ID = resp.ID
	return e, appendEntry(r.ConfigPath, e)
}

// obtain asks the server for the runner's token: a glrt- token is
// verified with the machine's system ID, a registration token registers.
func obtain(ctx context.Context, c *Client, r Registration) (RegisterResponse, error) {
	if r.Token == "" {
		return c.RegisterLegacy(ctx, r.RegistrationToken, r.Name, r.Tags, r.RunUntagged)
	}
	if !strings.HasPrefix(r.Token, "glrt-") {
		return RegisterResponse{}, errors.New("--token takes a runner authentication token (glrt-…); a registration token goes in --registration-token")
	}
	systemID, err := SystemID(r.ConfigPath)
	if err != nil {
		return RegisterResponse{}, err
	}
	return c.Verify(ctx, r.Token, systemID)
}

// newEntry is the [[runners]] entry of a registration.
func newEntry(r Registration, token string) config.Runner {
	e := config.Runner{Name: r.Name, URL: r.URL, Token: token, Executor: r.Executor}
	e.Docker.Image = r.DockerImage
	for _, s := range r.DockerServices {
		e.Docker.Services = append(e.Docker.Services, config.Service{Name: s})
	}
	return e
}

// written is the TOML shape of a new entry: only the keys it sets.
type written struct {
	Runners []writtenRunner `toml:"runners"`
}

type writtenRunner struct {
	Name     string         `toml:"name,omitempty"`
	ID       int64          `toml:"id,omitempty"`
	URL      string         `toml:"url"`
	Token    string         `toml:"token"`
	Executor string         `toml:"executor,omitempty"`
	Docker   *writtenDocker `toml:"docker,omitempty"`
}

type writtenDocker struct {
	Image    string   `toml:"image,omitempty"`
	Services []string `toml:"services,omitempty"`
}

// appendEntry adds e at the end of the file, which keeps everything the
// file already says (other entries, comments, keys slipway does not
// read) byte for byte; a new file also gets concurrent = 1. The result
// must read back, and is written whole or not at all, mode 0600: it
// holds tokens.
func appendEntry(path string, e config.Runner) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var buf bytes.Buffer
	buf.Write(old)
	switch {
	case len(old) == 0:
		buf.WriteString("concurrent = 1\n")
	case old[len(old)-1] != '\n':
		buf.WriteByte('\n')
	}
	buf.WriteByte('\n')
	w := writtenRunner{Name: e.Name, ID: e.ID, URL: e.URL, Token: e.Token, Executor: e.Executor}
	if d := e.Docker; d.Image != "" || len(d.Services) > 0 {
		w.Docker = &writtenDocker{Image: d.Image}
		for _, s := range d.Services {
			w.Docker.Services = append(w.Docker.Services, s.Name)
		}
	}
	if err := toml.NewEncoder(&buf).Encode(written{Runners: []writtenRunner{w}}); err != nil {
		return err
	}
	if _, err := toml.Decode(buf.String(), &config.Config{}); err != nil {
		return fmt.Errorf("%s: adding the runner would make the file unreadable: %v", path, err)
	}
	return writeFile(path, buf.Bytes())
}

// writeFile replaces path through a temporary file in its directory.
func writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".config-*.toml")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
