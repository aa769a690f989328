package image

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/pipeline"
)

const (
	always  = pipeline.PullAlways
	ifNot   = pipeline.PullIfNotExists
	never   = pipeline.PullNever
	unknown = pipeline.PullPolicy("sometimes")
)

func list(ps ...pipeline.PullPolicy) []pipeline.PullPolicy { return ps }

func mustParse(t testing.TB, s string) Reference {
	t.Helper()
	r, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    pipeline.PullPolicy
		wantErr string
	}{
		{"always", always, ""},
		{"if-not-present", ifNot, ""},
		{"if-not-exists", ifNot, ""},
		{"never", never, ""},
		{"", "", `unknown pull policy ""`},
		{"Always", "", `unknown pull policy "Always": want always, if-not-present (or if-not-exists) or never`},
		{"true", "", `unknown pull policy "true"`},
	}
	for _, tt := range tests {
		got, err := ParsePolicy(tt.in)
		if got != tt.want || !errMatches(err, tt.wantErr) {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// errMatches: want "" means no error, else the error contains want.
func errMatches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

func TestEffective(t *testing.T) {
	tests := []struct {
		requested, allowed, want []pipeline.PullPolicy
		wantErr                  string
	}{
		{nil, nil, nil, ""},
		{list(always), nil, list(always), ""},
		{nil, list(never), nil, ""},
		{list(always), list(always, ifNot), list(always), ""},
		{list(always, ifNot), list(ifNot, always), list(always, ifNot), ""},
		// gitlab-runner intersects: what is not allowed is dropped.
		{list(always, ifNot), list(ifNot), list(ifNot), ""},
		{list(never, ifNot, never), list(never, ifNot), list(never, ifNot), ""},
		{list(always), list(ifNot, never), nil, `pull_policy ([always]) defined in the file is not one of the allowed_pull_policies ([if-not-present, never])`},
		{list(ifNot), list(always), nil, `pull_policy ([if-not-present]) defined in the file is not one of the allowed_pull_policies ([always])`},
	}
	for _, tt := range tests {
		got, err := Effective(tt.requested, tt.allowed, "the file")
		if !errMatches(err, tt.wantErr) || !slices.Equal(got, tt.want) {
			t.Errorf("Effective(%v, %v) = %v, %v; want %v, %q", tt.requested, tt.allowed, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDecide(t *testing.T) {
	const digest = "@sha256:" + hex64
	tests := []struct {
		policies []pipeline.PullPolicy
		image    string
		present  bool
		pull     bool
		rest     []pipeline.PullPolicy
		wantErr  string
	}{
		// The default (Drone) rule: refresh a floating latest, else pull only when missing.
		{nil, "golang", true, true, nil, ""},
		{nil, "golang", false, true, nil, ""},
		{nil, "golang:latest", true, true, nil, ""},
		{nil, "golang:1.12", true, false, nil, ""},
		{nil, "golang:1.12", false, true, nil, ""},
		{nil, "golang" + digest, true, false, nil, ""},
		{nil, "golang" + digest, false, true, nil, ""},
		{nil, "golang:latest" + digest, true, false, nil, ""},
		{nil, "registry.example.com:5000/ns/img", true, true, nil, ""},
		// always
		{list(always), "golang:1.12", true, true, list(), ""},
		{list(always), "golang:1.12", false, true, list(), ""},
		{list(always), "golang" + digest, true, true, list(), ""},
		// if-not-exists, also for latest
		{list(ifNot), "golang", true, false, list(), ""},
		{list(ifNot), "golang", false, true, list(), ""},
		{list(ifNot), "golang:1.12", true, false, list(), ""},
		// never
		{list(never), "golang", true, false, list(), ""},
		{list(never), "busybox:1.35", false, false, nil, `image busybox:1.35 is not present locally and the pull policy is "never"`},
		{list(never), "registry.example.com:5000/ns/img:tag", false, false, nil, `image registry.example.com:5000/ns/img:tag is not present locally`},
		// lists: the first verdict that lets the job run; rest is the fallback
		{list(always, ifNot), "golang:1.12", true, true, list(ifNot), ""},
		{list(always, ifNot), "golang:1.12", false, true, list(ifNot), ""},
		{list(ifNot, always), "golang:1.12", true, false, list(always), ""},
		{list(ifNot, always), "golang:1.12", false, true, list(always), ""},
		{list(never, always), "golang:1.12", false, true, list(), ""},
		{list(never, ifNot), "golang:1.12", true, false, list(ifNot), ""},
		{list(never, never), "golang:1.12", false, false, nil, `pull policy is "never"`},
		// a typo anywhere is an error, even where it would not be reached
		{list(unknown), "golang", true, false, nil, `unknown pull policy "sometimes"`},
		{list(ifNot, unknown), "golang", true, false, nil, `unknown pull policy "sometimes"`},
	}
	for _, tt := range tests {
		ref := mustParse(t, tt.image)
		pull, rest, err := Decide(tt.policies, ref, tt.present)
		if pull != tt.pull || !equalPolicies(rest, tt.rest) || !errMatches(err, tt.wantErr) {
			t.Errorf("Decide(%v, %s, present=%v) = %v, %v, %v; want %v, %v, %q",
				tt.policies, tt.image, tt.present, pull, rest, err, tt.pull, tt.rest, tt.wantErr)
		}
	}
}

func equalPolicies(a, b []pipeline.PullPolicy) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecideNeverErrorType(t *testing.T) {
	_, _, err := Decide(list(never), mustParse(t, "busybox:1.35"), false)
	var np *NotPresentError
	if !errors.As(err, &np) || np.Image != "busybox:1.35" {
		t.Fatalf("err = %#v, want *NotPresentError for busybox:1.35", err)
	}
}

// fakeStore counts calls; Pull returns pullErrs in turn (nil: success).
type fakeStore struct {
	present   bool
	existsErr error
	pullErrs  []error
	exists    int
	pulls     int
	refs      []string
	cancel    context.CancelFunc // called on the first Pull, to simulate Ctrl-C mid-pull
}

func (f *fakeStore) Exists(ctx context.Context, ref string) (bool, error) {
	f.exists++
	f.refs = append(f.refs, "exists "+ref)
	return f.present, f.existsErr
}

func (f *fakeStore) Pull(ctx context.Context, ref string) error {
	f.pulls++
	f.refs = append(f.refs, "pull "+ref)
	if f.cancel != nil {
		f.cancel()
	}
	if len(f.pullErrs) == 0 {
		return nil
	}
	err := f.pullErrs[0]
	f.pullErrs = f.pullErrs[1:]
	return err
}

func TestEnsure(t *testing.T) {
	offline := errors.New("dial tcp: connection refused")
	denied := errors.New("unauthorized")
	tests := []struct {
		name          string
		policies      []pipeline.PullPolicy
		image         string
		present       bool
		pullErrs      []error
		existsErr     error
		wantPulled    bool
		wantPulls     int
		wantRecovered string
		wantErr       string
	}{
		{"default latest present refreshes", nil, "golang", true, nil, nil, true, 1, "", ""},
		{"default tagged present uses local", nil, "golang:1.12", true, nil, nil, false, 0, "", ""},
		{"default tagged missing pulls", nil, "golang:1.12", false, nil, nil, true, 1, "", ""},
		{"default latest pull failure is final", nil, "golang", true, []error{offline}, nil, false, 1, "", "pulling image golang:latest: dial tcp: connection refused"},
		{"always pulls even when present", list(always), "golang:1.12", true, nil, nil, true, 1, "", ""},
		{"always failure is final, no silent fallback", list(always), "golang:1.12", true, []error{denied}, nil, false, 1, "", "pulling image golang:1.12: unauthorized"},
		{"always,if-not-present falls back to local", list(always, ifNot), "golang:1.12", true, []error{offline}, nil, false, 1, "pulling image golang:1.12: dial tcp", ""},
		{"always,if-not-present missing pulls twice", list(always, ifNot), "golang:1.12", false, []error{offline, offline}, nil, false, 2, "", "connection refused"},
		{"always,if-not-present second pull succeeds", list(always, ifNot), "golang:1.12", false, []error{offline, nil}, nil, true, 2, "", ""},
		{"always,never falls back to local", list(always, never), "golang:1.12", true, []error{offline}, nil, false, 1, "connection refused", ""},
		{"always,never missing reports both", list(always, never), "busybox:1.35", false, []error{offline}, nil, false, 1, "",
			"pulling image busybox:1.35: dial tcp: connection refused\nimage busybox:1.35 is not present locally and the pull policy is \"never\""},
		{"always,always retries", list(always, always), "golang:1.12", true, []error{offline, nil}, nil, true, 2, "", ""},
		{"if-not-present present", list(ifNot), "golang", true, nil, nil, false, 0, "", ""},
		{"if-not-present missing", list(ifNot), "golang", false, nil, nil, true, 1, "", ""},
		{"if-not-present missing failure", list(ifNot), "golang", false, []error{denied}, nil, false, 1, "", "unauthorized"},
		{"never present", list(never), "golang", true, nil, nil, false, 0, "", ""},
		{"never missing", list(never), "busybox:1.35", false, nil, nil, false, 0, "", `image busybox:1.35 is not present locally and the pull policy is "never"`},
		{"never,always missing pulls", list(never, always), "busybox:1.35", false, nil, nil, true, 1, "", ""},
		{"unknown policy", list(unknown), "golang", true, nil, nil, false, 0, "", `unknown pull policy "sometimes"`},
		{"exists fails", list(ifNot), "golang", false, nil, errors.New("engine down"), false, 0, "", "looking up image golang:latest locally: engine down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeStore{present: tt.present, pullErrs: tt.pullErrs, existsErr: tt.existsErr}
			res, err := Ensure(context.Background(), s, mustParse(t, tt.image), tt.policies)
			if !errMatches(err, tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if res.Pulled != tt.wantPulled || s.pulls != tt.wantPulls || s.exists != 1 {
				t.Errorf("pulled=%v pulls=%d exists=%d; want pulled=%v pulls=%d exists=1", res.Pulled, s.pulls, s.exists, tt.wantPulled, tt.wantPulls)
			}
			if !errMatches(res.Recovered, tt.wantRecovered) {
				t.Errorf("Recovered = %v, want %q", res.Recovered, tt.wantRecovered)
			}
			for _, r := range s.refs {
				if !strings.HasSuffix(r, mustParse(t, tt.image).String()) {
					t.Errorf("store saw %q, want the normalised reference", r)
				}
			}
		})
	}
}

func TestEnsureCancelledPullDoesNotFallBack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &fakeStore{present: true, pullErrs: []error{context.Canceled}, cancel: cancel}
	res, err := Ensure(ctx, s, mustParse(t, "golang:1.12"), list(always, ifNot))
	if !errors.Is(err, context.Canceled) || res.Pulled || s.pulls != 1 {
		t.Fatalf("res=%+v err=%v pulls=%d; want a context.Canceled error after one pull", res, err, s.pulls)
	}
}

func TestEnsureZeroReference(t *testing.T) {
	s := &fakeStore{}
	if _, err := Ensure(context.Background(), s, Reference{}, nil); err == nil || s.exists != 0 {
		t.Fatalf("err=%v exists=%d; want an error before touching the store", err, s.exists)
	}
}
