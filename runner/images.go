package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/engine"
	"github.com/slipway-ci/slipway/image"
	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/plan"
)

// imageCache makes sure each image is pulled at most once per run, even
// when several jobs or services of the run ask for it at the same time.
type imageCache struct {
	mu      sync.Mutex
	entries map[string]*imageEntry
	pulling int // pulls in progress, for progress lines (see progress.go)
}

// imageEntry is one decision about an image: made for a job with a list
// of policies; the image was pulled, or the local one is used, or it
// failed.
type imageEntry struct {
	done   chan struct{}
	job    *plan.Job
	policy string
	pulled bool
	err    error
}

// pullAll ensures every image of the job, different images in parallel.
func (r *run) pullAll(ctx context.Context, j *plan.Job) error {
	imgs := images(j)
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	for i, img := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.ensure(ctx, j, img)
		}()
	}
	wg.Wait()
	return errors.Join(dedupErrs(errs)...)
}

// ensure runs the pull decision for img once per run and reference. A
// later request reuses an earlier decision when it answers it: an image
// pulled in this run is fresh for any policy; a local image that one list
// of policies accepted is accepted again by the same list; a failure is
// final for the job it happened in. Otherwise (a stricter policy, or
// another job, whose credentials may differ, after a failure) it decides
// again; a second pull happens only when the first did not.
func (r *run) ensure(ctx context.Context, j *plan.Job, img pipeline.Image) error {
	policy := fmt.Sprint(img.Pull)
	for {
		r.images.mu.Lock()
		if r.images.entries == nil {
			r.images.entries = map[string]*imageEntry{}
		}
		e, ok := r.images.entries[img.Ref]
		if !ok {
			e = &imageEntry{done: make(chan struct{}), job: j, policy: policy}
			r.images.entries[img.Ref] = e
			r.images.mu.Unlock()
			e.pulled, e.err = r.ensureOnce(ctx, j, img)
			close(e.done)
			return e.err
		}
		r.images.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if e.pulled || e.policy == policy && (e.err == nil || e.job == j) {
			return e.err
		}
		r.images.mu.Lock()
		if r.images.entries[img.Ref] == e {
			delete(r.images.entries, img.Ref)
		}
		r.images.mu.Unlock()
	}
}

// ensureOnce applies the image's pull policies (image.Ensure); credentials
// are looked up only when a pull actually happens. pulled reports that a
// pull succeeded.
func (r *run) ensureOnce(ctx context.Context, j *plan.Job, img pipeline.Image) (pulled bool, err error) {
	ref, err := image.Parse(img.Ref)
	if err != nil {
		return false, err
	}
	res, err := image.Ensure(ctx, &store{r: r, j: j, img: img, ref: ref}, ref, img.Pull)
	if err != nil {
		return false, err
	}
	if res.Recovered != nil {
		r.say(j.Name, "Using the local %s: %v", img.Name, res.Recovered)
	}
	return res.Pulled, nil
}

// store adapts the engine to image.Store for one image of one job.
type store struct {
	r   *run
	j   *plan.Job
	img pipeline.Image
	ref image.Reference
	// The credentials, found at the first pull (a local image needs
	// none), then reused by a retry of a policy list.
	auth     *engine.RegistryAuth
	source   string
	resolved bool
}

func (s *store) Exists(ctx context.Context, ref string) (bool, error) {
	_, err := s.r.Engine.ImageInfo(ctx, ref)
	if errors.Is(err, engine.ErrImageNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Pull finds the credentials, says where they came from (never what they
// are), pulls with progress (per layer on a terminal, a line at the start
// and the end otherwise), and says how long it took. A failure names the
// registry and which credentials it refused.
func (s *store) Pull(ctx context.Context, ref string) error {
	if !s.resolved {
		var err error
		if s.auth, s.source, err = s.r.registryAuth(ctx, s.j, s.img, s.ref); err != nil {
			return fmt.Errorf("registry %s: %w", s.ref.Domain(), err)
		}
		s.resolved = true
	}
	auth, source := s.auth, s.source
	from := ""
	if auth != nil {
		from = " with credentials from " + source
	}
	s.r.say(s.j.Name, "Pulling %s%s", s.img.Name, from)
	pp := s.r.newPullProgress(s.j.Name, s.img.Name)
	defer pp.done()
	start := time.Now()
	if err := s.r.Engine.PullImage(ctx, ref, auth, pp.event); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if auth != nil {
			return fmt.Errorf("registry %s (credentials from %s): %w", s.ref.Domain(), source, err)
		}
		return fmt.Errorf("registry %s (no credentials found for it): %w", s.ref.Domain(), err)
	}
	s.r.say(s.j.Name, "Pulled %s in %s%s", s.img.Name, roundDuration(time.Since(start)), pp.summary())
	return nil
}

// registryAuth finds the registry credentials for img in the order of the
// GitLab documentation (see image.Origins), in the one shape the engines
// take: nil when there are none. source says where they came from.
func (r *run) registryAuth(ctx context.Context, j *plan.Job, img pipeline.Image, ref image.Reference) (*engine.RegistryAuth, string, error) {
	o := image.Origins{Inline: img.Auth, RunnerEnv: r.plan.RunnerEnv, JobEnv: jobEnv(j)}
	for _, name := range j.PullSecrets {
		v, ok := r.plan.Secrets[name]
		if !ok {
			return nil, "", fmt.Errorf("image_pull_secrets: secret %q was not given (use --secret %s=@config.json)", name, name)
		}
		o.PullSecrets = append(o.PullSecrets, image.PullSecret{Name: name, Value: v})
	}
	warn := func(w string) { r.say(j.Name, "WARNING: %s", w) }
	a, found, err := image.Resolve(ctx, ref, o.Sources(), warn)
	if err != nil || !found {
		return nil, "", err
	}
	return &engine.RegistryAuth{Registry: a.ServerAddress, Username: a.Username, Password: a.Password,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}, a.Source, nil
}

// jobEnv is the job's variables as KEY=VALUE: those of its first step,
// where the dialects put the YAML variables and --env adds its own.
func jobEnv(j *plan.Job) []string {
	if len(j.Steps) == 0 {
		return nil
	}
	var out []string
	for _, v := range j.Steps[0].Env {
		if v.FromSecret == "" {
			out = append(out, v.Name+"="+v.Value)
		}
	}
	return out
}

func dedupErrs(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		if e != nil && !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}
