package agent

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"sync"
	"time"
)

// maxPatch bounds one PATCH: a burst of output goes up in pieces, so no
// request is larger than a server is likely to take.
const maxPatch = 1 << 20

// trace is a job's log on its way to the server: writes append to it, and
// the uploader sends what the server does not have yet, every Interval
// while output flows. The log is spooled to a temporary file rather than
// kept in memory (a job may print gigabytes), and read back a piece at a
// time: a server that lost its end (416) is sent the rest again from its
// own length.
type trace struct {
	c     *Client
	id    int64
	token string
	// interval is how often new output is sent; keepAlive how long the
	// job may be quiet before a PUT renews its lease (and asks whether it
	// was cancelled).
	interval, keepAlive time.Duration
	// cancel is called once the server asks to stop the job.
	cancel func()
	// fence is how long the server may go unheard before the job is
	// stopped (0: never); contact is when it last answered.
	fence   time.Duration
	contact time.Time

	mu    sync.Mutex
	spool *spool
	size  int         // bytes written
	crc   hash.Hash32 // of the bytes written, for the final update
	sent  int         // what the server acknowledged
	// wake is signalled by the first write after a flush.
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newTrace(c *Client, id int64, token string, cancel func()) *trace {
	return &trace{c: c, id: id, token: token, cancel: cancel, interval: time.Second, keepAlive: 3 * time.Second,
		wake: make(chan struct{}, 1), spool: newSpool(), crc: crc32.NewIEEE()}
}

// close removes the spooled log; the trace is not used after it.
func (t *trace) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spool.close()
}

// Write appends to the log. It never fails: a server that does not take
// the log must not stop the job's output.
func (t *trace) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.spool.write(p)
	t.crc.Write(p)
	t.size += len(p)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Line appends one line the runner itself says.
func (t *trace) Line(format string, args ...any) {
	_, _ = t.Write([]byte(fmt.Sprintf(format, args...) + "\n"))
}

// leased sets what the server's lease asks: renew well within it, and
// stop the job when the server has not answered for half of it. By then
// the job may be about to go to another runner (the lease lapses when
// the server has not heard from this one): stopping it here first is what
// keeps one job from running twice at once, when a network cut lets
// neither side know of the other.
func (t *trace) leased(lease time.Duration) {
	// A quiet job's keep-alive goes every one or two keepAlive periods
	// (see loop): several fit in the fence.
	t.keepAlive = min(t.keepAlive, lease/8)
	t.fence = lease / 2
}

// start sends the log in the background until finish.
func (t *trace) start(ctx context.Context) {
	t.stop, t.done = make(chan struct{}), make(chan struct{})
	t.heard()
	go t.loop(ctx)
	if t.fence > 0 {
		go t.watch()
	}
}

// heard records an answer from the server.
func (t *trace) heard() {
	t.mu.Lock()
	t.contact = time.Now()
	t.mu.Unlock()
}

// watch stops the job once the server has been silent for fence, however
// long the calls to it hang.
func (t *trace) watch() {
	tick := time.NewTicker(t.fence / 8)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		t.mu.Lock()
		silent := time.Since(t.contact)
		t.mu.Unlock()
		if silent >= t.fence {
			t.Line("ERROR: no answer from the server for %s: the job's lease is lapsing and the server will give "+
				"the job to another runner, so it is stopped here", silent.Round(time.Second))
			t.cancel()
			return
		}
	}
}

// loop sends new output at most every interval (the first write after a
// quiet spell goes at once, and so does a full PATCH's worth) and renews
// the lease when the job is quiet.
func (t *trace) loop(ctx context.Context) {
	defer close(t.done)
	// last is when the server was last called (for the keep-alive),
	// flushed when output was last sent: the first output goes at once.
	last, flushed := time.Now(), time.Time{}
	quiet := time.NewTicker(t.keepAlive)
	defer quiet.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-quiet.C:
			if time.Since(last) >= t.keepAlive {
				// A PATCH that failed is retried here, or else the
				// lease is renewed.
				if t.pending() {
					_ = t.flush(ctx)
				} else {
					t.touch(ctx)
				}
				last = time.Now()
			}
			continue
		case <-t.wake:
		}
		if !t.pace(time.Until(flushed.Add(t.interval))) {
			return
		}
		_ = t.flush(ctx)
		last, flushed = time.Now(), time.Now()
	}
}

// pace waits up to wait before new output is sent, so that a job printing
// a line at a time is sent in one PATCH per interval; but a full PATCH's
// worth goes at once, so that a burst of output does not pile up behind
// the interval. False when the trace is stopping.
func (t *trace) pace(wait time.Duration) bool {
	if wait <= 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for t.backlog() < maxPatch {
		select {
		case <-t.stop:
			return false
		case <-timer.C:
			return true
		case <-t.wake:
		}
	}
	return true
}

// backlog is how much of the log the server lacks.
func (t *trace) backlog() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.size - t.sent
}

// pending reports whether the server lacks some of the log.
func (t *trace) pending() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sent < t.size
}

// touch tells the server the job is still running.
func (t *trace) touch(ctx context.Context) {
	a, err := t.c.Update(ctx, t.id, Update{Token: t.token, State: "running"})
	t.heed(a, err)
}

// heed stops the job when the server asks, or when it no longer knows
// the job (403, 404: another runner has it, or it was removed).
func (t *trace) heed(a Answer, err error) {
	var se *StatusError
	if err == nil || errors.As(err, &se) && se.Code < 500 {
		t.heard()
	}
	if a.Cancels() || errors.As(err, &se) && (se.Code == 403 || se.Code == 404) {
		t.cancel()
	}
}

// flush sends everything the server does not have, resending from the
// server's length when it says it holds another (416).
func (t *trace) flush(ctx context.Context) error {
	chunk := make([]byte, maxPatch)
	for stuck := 0; stuck < 10; {
		t.mu.Lock()
		size, sent := t.size, t.sent
		var err error
		if sent < size {
			var n int
			n, err = t.spool.readAt(chunk[:min(size-sent, maxPatch)], sent)
			chunk = chunk[:n]
		}
		t.mu.Unlock()
		if sent >= size {
			return nil
		}
		if err != nil {
			return fmt.Errorf("the job's log spool: %w", err)
		}
		n, a, err := t.c.Patch(ctx, t.id, t.token, sent, chunk)
		chunk = chunk[:cap(chunk)]
		t.heed(a, err)
		if err != nil {
			return err
		}
		if n <= sent {
			stuck++ // a server that answers 416 with the same length
		}
		t.mu.Lock()
		t.sent = min(n, t.size)
		t.mu.Unlock()
	}
	return fmt.Errorf("PATCH jobs/%d/trace: the server takes none of the log", t.id)
}

// finish stops the background sending and sends the rest, retrying a
// while: the final state must come after the whole log.
func (t *trace) finish(ctx context.Context) error {
	if t.stop != nil {
		close(t.stop)
		<-t.done
	}
	var err error
	for i := range 5 {
		if err = t.flush(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 200 * time.Millisecond):
		}
	}
	return err
}

// output describes the whole log for the final update, as gitlab-runner
// does (crc32, IEEE).
func (t *trace) output() *Output {
	t.mu.Lock()
	defer t.mu.Unlock()
	return &Output{Checksum: fmt.Sprintf("crc32:%08x", t.crc.Sum32()), Bytesize: t.size}
}
