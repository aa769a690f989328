package live

import (
	"bytes"
	"context"
	"time"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/server/store"
)

// Chunk is the most of a log one event carries.
const Chunk = 64 << 10

// Follower follows job logs as they grow: the API's event stream and the
// web interface's are both one of these with a different Sink.
type Follower struct {
	Store store.Store
	// Hub wakes a follower the moment this process appends to the log
	// or ends the job; nil means poll only.
	Hub *Hub
	// Poll is how often the store is read without a wake-up: appends by
	// other servers sharing a PostgreSQL store ring no bell here.
	// Default 1 s with a Hub, 200 ms without.
	Poll time.Duration
	// KeepAlive is how long a quiet stream waits before it sends a
	// comment, so that proxies keep it open (default 15 s).
	KeepAlive time.Duration
	// Done ends every stream (the server shuts down); the clients resume
	// from their last event id when it is back.
	Done <-chan struct{}
}

// Sink is where a followed log goes.
type Sink interface {
	// Cut is how many of the new bytes may go now; the rest waits for
	// more. final: the job is done and data is all of the rest, so all of
	// it must go.
	Cut(data []byte, final bool) int
	// Send sends bytes of the log; end is the offset after them.
	Send(data []byte, end int64) error
	KeepAlive() error
	// End is the last call: the job is done and its whole log was sent.
	End(status store.JobStatus) error
}

// Follow sends the log of a job from offset on until the job is done and
// all of it is sent (nil), the client goes (ctx's error) or Done closes
// (nil).
func (f *Follower) Follow(ctx context.Context, jobID, offset int64, s Sink) error {
	pollEvery, keepAlive := f.Poll, f.KeepAlive
	if pollEvery <= 0 {
		pollEvery = 200 * time.Millisecond
		if f.Hub != nil {
			pollEvery = time.Second
		}
	}
	if keepAlive <= 0 {
		keepAlive = 15 * time.Second
	}
	poll, quiet := time.NewTicker(pollEvery), time.NewTicker(keepAlive)
	defer poll.Stop()
	defer quiet.Stop()
	sent := false // since the last keep-alive tick
	for {
		wake := f.Hub.Wait(Log(jobID))
		// The status is read before the log: a job done before the read
		// has its whole log in the store.
		job, err := f.Store.Job(ctx, jobID)
		if err != nil {
			return err
		}
		data, err := f.Store.ReadLog(ctx, jobID, offset, Chunk)
		if err != nil {
			return err
		}
		final := job.Status.Done() && len(data) < Chunk
		if n := s.Cut(data, final); n > 0 {
			offset += int64(n)
			if err := s.Send(data[:n], offset); err != nil {
				return err
			}
			sent = true
			continue // more may wait beyond one chunk
		}
		if final {
			return s.End(job.Status)
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-f.Done:
				return nil
			case <-quiet.C:
				if !sent {
					if err := s.KeepAlive(); err != nil {
						return err
					}
				}
				sent = false
				continue
			case <-wake:
			case <-poll.C:
			}
			waiting = false
		}
	}
}

// WholeRunes is a Cut that holds back a character cut at data's end (by
// the chunk size or by the runner's upload) until the rest of it is
// there: half a character would become U+FFFD for good.
func WholeRunes(data []byte, final bool) int {
	if final {
		return len(data)
	}
	return len(data) - partialRune(data)
}

// WholeLines is a Cut that sends only whole lines while the job runs; a
// line longer than a chunk goes in pieces.
func WholeLines(data []byte, final bool) int {
	if final {
		return len(data)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		return i + 1
	}
	if len(data) == Chunk {
		return WholeRunes(data, false)
	}
	return 0
}

// partialRune is how many bytes at data's end begin a UTF-8 character
// that is not complete.
func partialRune(data []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(data); i++ {
		b := data[len(data)-i]
		if utf8.RuneStart(b) {
			if b >= utf8.RuneSelf && !utf8.FullRune(data[len(data)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}
