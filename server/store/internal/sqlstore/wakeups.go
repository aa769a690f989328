package sqlstore

import "sync"

// wakeups is store.Wakeups within one process: a channel that the next
// broadcast closes and replaces, so any number of waiters wake at once.
type wakeups struct {
	mu sync.Mutex
	ch chan struct{}
}

func newWakeups() *wakeups { return &wakeups{ch: make(chan struct{})} }

func (w *wakeups) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *wakeups) broadcast() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}

// QueueChanged implements store.Wakeups.
func (db *DB) QueueChanged() <-chan struct{} { return db.queue.wait() }
