package image

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/pipeline"
)

// Store is what Ensure needs from an engine: look an image up in the local
// cache, and pull one. ref is the normalised reference (Reference.String).
type Store interface {
	Exists(ctx context.Context, ref string) (bool, error)
	// Pull pulls ref; the store knows the credentials for it.
	Pull(ctx context.Context, ref string) error
}

// NotPresentError is the refusal of the "never" policy: the image is not in
// the local cache and may not be pulled.
type NotPresentError struct {
	Image string // the familiar form, as the user wrote it
}

func (e *NotPresentError) Error() string {
	return fmt.Sprintf("image %s is not present locally and the pull policy is %q", e.Image, pipeline.PullNever)
}

// ParsePolicy reads one pull policy as GitLab (if-not-present) or Drone
// (if-not-exists) spells it. Drone 0.x's `pull: true/false` is a boolean,
// not a policy name, so its dialect maps it.
func ParsePolicy(s string) (pipeline.PullPolicy, error) {
	switch s {
	case "always":
		return pipeline.PullAlways, nil
	case "if-not-present", "if-not-exists":
		return pipeline.PullIfNotExists, nil
	case "never":
		return pipeline.PullNever, nil
	}
	return "", fmt.Errorf("unknown pull policy %q: want always, if-not-present (or if-not-exists) or never", s)
}

// Effective is gitlab-runner's pull policy for an image: the policies
// requested (the file's, else the runner's pull_policy) that
// allowed_pull_policies also lists, in the requested order. An empty
// allowed list restricts nothing. None left is an error naming both
// lists; source says where the requested ones come from.
func Effective(requested, allowed []pipeline.PullPolicy, source string) ([]pipeline.PullPolicy, error) {
	if len(allowed) == 0 || len(requested) == 0 {
		return requested, nil
	}
	var out []pipeline.PullPolicy
	for _, p := range requested {
		if slices.Contains(allowed, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		// gitlab-runner's words, so that its documentation answers.
		return nil, fmt.Errorf("pull_policy ([%s]) defined in %s is not one of the allowed_pull_policies ([%s])",
			joinPolicies(requested), source, joinPolicies(allowed))
	}
	return out, nil
}

// joinPolicies lists policies as GitLab spells them: allowed_pull_policies
// is a GitLab Runner setting, and its users wrote if-not-present.
func joinPolicies(ps []pipeline.PullPolicy) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = gitlabName(p)
	}
	return strings.Join(s, ", ")
}

// gitlabName is GitLab's name of a policy: if-not-present for the model's
// if-not-exists (Drone's spelling).
func gitlabName(p pipeline.PullPolicy) string {
	if p == pipeline.PullIfNotExists {
		return "if-not-present"
	}
	return string(p)
}

// Decide says whether to pull, given the policies (tried in order), whether
// the image is present locally, and the reference.
//
// It returns the verdict of the first policy that lets the job run:
// pull=false means run the local image; pull=true means pull, and if that
// pull fails the caller tries rest (Decide(rest, ...)); an empty rest makes
// the failure final. A policy that refuses ("never" with the image missing)
// passes to the next one; err is the last refusal when all of them refuse.
// An empty list is the default rule (see defaultPull).
func Decide(policies []pipeline.PullPolicy, ref Reference, present bool) (pull bool, rest []pipeline.PullPolicy, err error) {
	// Reject a typo anywhere in the list up front, rather than only when a
	// failed pull happens to reach it.
	for _, p := range policies {
		if _, err := ParsePolicy(string(p)); err != nil {
			return false, nil, err
		}
	}
	if len(policies) == 0 {
		return defaultPull(ref, present), nil, nil
	}
	for i, p := range policies {
		if pull, err = decideOne(p, ref, present); err == nil {
			return pull, policies[i+1:], nil
		}
	}
	return false, nil, err
}

// decideOne is one policy's verdict.
func decideOne(p pipeline.PullPolicy, ref Reference, present bool) (bool, error) {
	switch p {
	case pipeline.PullAlways:
		return true, nil
	case pipeline.PullNever:
		if !present {
			return false, &NotPresentError{Image: ref.Familiar()}
		}
		return false, nil
	default: // if-not-exists; ParsePolicy vetted the name
		return !present, nil
	}
}

// defaultPull is Drone's rule, used when the file names no policy: a
// floating `latest` is refreshed, anything else is pulled only when missing.
// A digest pins the content even next to `latest` (the engine ignores the
// tag then), so a present digest is never re-pulled.
func defaultPull(ref Reference, present bool) bool {
	return !present || Floating(ref)
}

// Floating reports whether ref names whatever `latest` is now: no tag or
// the tag latest, and no digest. With no policy, such an image is pulled
// every time (Drone's rule, and GitLab's default of always).
func Floating(ref Reference) bool {
	return ref.Digest() == "" && (ref.Tag() == "" || ref.Tag() == "latest")
}

// Result is what Ensure did.
type Result struct {
	// Pulled: a pull succeeded; false means the local image is used.
	Pulled bool
	// Recovered is a pull failure a later policy in the list recovered
	// from (GitLab's [always, if-not-present] offline case); the runner
	// should print it as a warning. nil when nothing failed.
	Recovered error
}

// Ensure makes ref available in s as the policies say: it checks the local
// cache once, then pulls and falls back along the list as Decide directs.
// A failed pull is final unless a later policy in the list allows running
// without it; a cancelled context never falls back.
func Ensure(ctx context.Context, s Store, ref Reference, policies []pipeline.PullPolicy) (Result, error) {
	if ref.named == nil {
		return Result{}, errors.New("no image reference")
	}
	present, err := s.Exists(ctx, ref.String())
	if err != nil {
		return Result{}, fmt.Errorf("looking up image %s locally: %w", ref.Familiar(), err)
	}
	var pullErr error
	for {
		pull, rest, err := Decide(policies, ref, present)
		if err != nil {
			return Result{}, errors.Join(pullErr, err)
		}
		if !pull {
			return Result{Recovered: pullErr}, nil
		}
		err = s.Pull(ctx, ref.String())
		if err == nil {
			return Result{Pulled: true}, nil
		}
		pullErr = fmt.Errorf("pulling image %s: %w", ref.Familiar(), err)
		if len(rest) == 0 || ctx.Err() != nil {
			return Result{}, pullErr
		}
		policies = rest
	}
}
