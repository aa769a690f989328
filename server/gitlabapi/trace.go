package gitlabapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/pipeline"
	"github.com/slipway-ci/slipway/secret"
	"github.com/slipway-ci/slipway/server/store"
)

// Masking the log before it is stored.
//
// The server masks every secret and masked variable of a job again before
// it stores the log (a stock runner is not trusted to). A chunk boundary
// may split a secret, so each job's log goes through one streaming masker
// (secret.Masker.Writer) for its whole life, kept here in memory by job id:
// the masker holds back what could be the start of a secret until the next
// chunk shows whether it is, so the store never holds a secret whole or in
// pieces. (Masking on read instead would leave secrets at rest.)
//
// Masking changes lengths, so the protocol's offsets (the runner's bytes,
// "received") and the stored log's length differ; the answers' Range is
// always in the runner's bytes.
//
// After a server restart (or a store error) the masker state is gone while
// the stored log is not. The next chunk is then answered 416 with Range
// 0-0: the runner resends its whole log, which goes through a fresh masker
// whose first output bytes, up to the stored length, are dropped. Masking
// is deterministic and what a masker has passed on never changes, so they
// are the stored bytes. The only bytes this loses are the ones a masker
// held back when the server died, if the runner sends nothing more before
// the job ends (at most a secret's length, and only while they looked
// like the start of one).

// traceUpdateInterval is the X-GitLab-Trace-Update-Interval answered: how
// often, in seconds, gitlab-runner sends its log.
const traceUpdateInterval = "3"

// traces are the masking states of the jobs whose logs are arriving.
type traces struct {
	mu   sync.Mutex
	jobs map[int64]*traceState
}

// traceState is one job's masking state. Its mutex is held for a whole
// trace or final status call, so a job's chunks are taken one at a time.
type traceState struct {
	mu       sync.Mutex
	w        io.WriteCloser // the masker, writing into out
	out      bytes.Buffer   // masked bytes not yet stored
	received int64          // the runner's bytes taken so far
	stored   int64          // the stored log's length
	skip     int64          // masked bytes to drop: already stored before a restart
	used     time.Time
	gone     bool // removed from traces: the caller must start again
	// token is the job token of the claim whose log this is: a job
	// requeued after its runner was lost starts a new log.
	token string
}

func newTraces() *traces { return &traces{jobs: map[int64]*traceState{}} }

// idleTrace is how long an unused masking state is kept (its job's runner
// was lost; a later chunk would rebuild it).
const idleTrace = time.Hour

// lock returns the job's state, locked, making it with mk if there is none.
// mk reads the store, so it runs without t.mu; of two states made at once
// for a job, the first one kept wins.
func (t *traces) lock(jobID int64, mk func() (*traceState, error)) (*traceState, error) {
	for {
		t.mu.Lock()
		s := t.jobs[jobID]
		t.mu.Unlock()
		if s == nil {
			made, err := mk()
			if err != nil {
				return nil, err
			}
			t.mu.Lock()
			if s = t.jobs[jobID]; s == nil {
				t.sweep()
				s = made
				t.jobs[jobID] = s
			}
			t.mu.Unlock()
		}
		s.mu.Lock()
		if !s.gone {
			s.used = time.Now()
			return s, nil
		}
		s.mu.Unlock()
	}
}

// existing returns the job's state, locked, or nil.
func (t *traces) existing(jobID int64) *traceState {
	t.mu.Lock()
	s := t.jobs[jobID]
	t.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return nil
	}
	return s
}

// drop forgets the job's state; the caller holds s.mu.
func (t *traces) drop(jobID int64, s *traceState) {
	s.gone = true
	t.mu.Lock()
	if t.jobs[jobID] == s {
		delete(t.jobs, jobID)
	}
	t.mu.Unlock()
}

// sweep forgets states unused for idleTrace; t.mu is held.
func (t *traces) sweep() {
	for id, s := range t.jobs {
		if s.mu.TryLock() {
			if time.Since(s.used) > idleTrace {
				s.gone = true
				delete(t.jobs, id)
			}
			s.mu.Unlock()
		}
	}
}

// newTraceState starts masking the log of job, whose stored log has
// job.LogLength bytes.
func (h *handler) newTraceState(ctx context.Context, job store.Job, jobToken string) (*traceState, error) {
	m, err := h.masker(ctx, job, jobToken)
	if err != nil {
		return nil, err
	}
	s := &traceState{stored: job.LogLength, skip: job.LogLength, token: jobToken}
	s.w = m.Writer(&s.out)
	return s, nil
}

// masker masks the job's secrets, its repository's masked variables, its
// token and the registry passwords of its document.
func (h *handler) masker(ctx context.Context, job store.Job, jobToken string) (*secret.Masker, error) {
	b, err := h.st.BuildByID(ctx, job.BuildID)
	if err != nil {
		return nil, err
	}
	vals, err := revealFor(ctx, h.st, b.RepoID, "")
	if err != nil {
		return nil, err
	}
	vars, err := h.st.ListVariables(ctx, b.RepoID)
	if err != nil {
		return nil, err
	}
	for _, v := range vars {
		if v.Masked {
			vals["variable "+v.Name] = v.Value
		}
	}
	vals["CI_JOB_TOKEN"] = jobToken
	if doc, err := pipeline.DecodeDocument(job.Document); err == nil {
		for name, c := range doc.Credentials {
			vals["credentials "+name] = c.Password
		}
	}
	return secret.NewMasker(vals), nil
}

// take masks data and stores what the masker passes on.
func (h *handler) take(ctx context.Context, jobID int64, s *traceState, data []byte) error {
	if _, err := s.w.Write(data); err != nil {
		return err
	}
	s.received += int64(len(data))
	return h.store(ctx, jobID, s)
}

// finishTrace stores what the masker still holds back: the log is over.
func (h *handler) finishTrace(ctx context.Context, jobID int64, s *traceState) error {
	if err := s.w.Close(); err != nil {
		return err
	}
	return h.store(ctx, jobID, s)
}

// finishTraceOf is finishTrace for the claim whose job token is tok.
func (h *handler) finishTraceOf(ctx context.Context, jobID int64, tok string, s *traceState) error {
	if s.token != tok {
		return nil
	}
	return h.finishTrace(ctx, jobID, s)
}

// store appends the masked output, less what is to be skipped.
func (h *handler) store(ctx context.Context, jobID int64, s *traceState) error {
	out := s.out.Bytes()
	n := min(s.skip, int64(len(out)))
	s.skip -= n
	out = out[n:]
	defer s.out.Reset()
	if len(out) == 0 {
		return nil
	}
	end, err := h.st.AppendLog(ctx, jobID, s.stored, out)
	if err != nil {
		return err
	}
	s.stored = end
	return nil
}

// trace is PATCH jobs/:id/trace: a chunk of the job's log at the offset
// Content-Range gives.
func (h *handler) trace(w http.ResponseWriter, r *http.Request) {
	job, tok, ok := h.jobAuth(w, r, "")
	if !ok {
		return
	}
	start, data, ok := readChunk(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	s, err := h.logs.lock(job.ID, func() (*traceState, error) { return h.newTraceState(ctx, job, tok) })
	if err != nil {
		internal(w, r, err)
		return
	}
	defer s.mu.Unlock()
	if s.token != tok {
		// The state of an earlier claim of a requeued job: start
		// this one's anew.
		h.logs.drop(job.ID, s)
		rangeMismatch(w, 0)
		return
	}
	if start != s.received {
		rangeMismatch(w, s.received)
		return
	}
	job, ok = h.renew(w, r, job)
	if !ok {
		h.logs.drop(job.ID, s)
		return
	}
	if err := h.take(ctx, job.ID, s, data); err != nil {
		// The masker went on without the store: start again from the
		// stored log (see the comment at the top).
		h.logs.drop(job.ID, s)
		if errors.As(err, new(*store.OffsetError)) {
			rangeMismatch(w, 0)
			return
		}
		internal(w, r, err)
		return
	}
	w.Header().Set("Range", fmt.Sprintf("0-%d", s.received))
	w.Header().Set("X-GitLab-Trace-Update-Interval", traceUpdateInterval)
	w.WriteHeader(http.StatusAccepted)
}

// rangeMismatch is the 416 that tells the runner where to resend from.
func rangeMismatch(w http.ResponseWriter, from int64) {
	w.Header().Set("Range", fmt.Sprintf("0-%d", from))
	fail(w, http.StatusRequestedRangeNotSatisfiable, "416 Range Not Satisfiable: send the log from byte %d", from)
}

// readChunk reads a trace chunk and checks it against its Content-Range
// "start-end" (end inclusive).
func readChunk(w http.ResponseWriter, r *http.Request) (int64, []byte, bool) {
	cr := r.Header.Get("Content-Range")
	a, b, found := strings.Cut(cr, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !found || err1 != nil || err2 != nil || start < 0 || end < start-1 {
		fail(w, http.StatusBadRequest, "Content-Range %q: want start-end, byte offsets with end inclusive", cr)
		return 0, nil, false
	}
	if end-start+1 > maxTraceBody {
		fail(w, http.StatusRequestEntityTooLarge, "trace chunk of %d bytes: at most %d at once", end-start+1, maxTraceBody)
		return 0, nil, false
	}
	// The body is read into one buffer of the length Content-Range
	// gives (bounded above): growing one from nothing, as io.ReadAll
	// does, allocated and copied the log about three times over.
	body := http.MaxBytesReader(w, r.Body, maxTraceBody)
	data := make([]byte, end-start+1)
	n, err := io.ReadFull(body, data)
	var extra int64
	if err == nil {
		extra, err = io.Copy(io.Discard, body)
	} else if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	if errors.As(err, new(*http.MaxBytesError)) {
		fail(w, http.StatusRequestEntityTooLarge, "trace chunk over %d bytes", maxTraceBody)
		return 0, nil, false
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "reading the trace chunk: %v", err)
		return 0, nil, false
	}
	if got := int64(n) + extra; got != end-start+1 {
		fail(w, http.StatusBadRequest, "Content-Range %s is %d bytes, the body has %d", cr, end-start+1, got)
		return 0, nil, false
	}
	return start, data, true
}
