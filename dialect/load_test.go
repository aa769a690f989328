package dialect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A FIFO has no size to check beforehand: Load reads it through the limit
// and stops, instead of reading whatever is written into it.
func TestLoadReadsAFIFOThroughTheLimit(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), ".gitlab-ci.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	written := make(chan int64, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			written <- -1
			return
		}
		defer f.Close()
		line := []byte(strings.Repeat("#", 1023) + "\n")
		var n int64
		for n < 64<<20 { // far more than the limit; the reader closing ends it
			k, err := f.Write(line)
			n += int64(k)
			if err != nil {
				break
			}
		}
		written <- n
	}()
	_, _, err := Load(fifo, Options{})
	if err == nil || !strings.Contains(err.Error(), "more than the 4194304 bytes") {
		t.Errorf("Load(FIFO of 64 MiB) = %v", err)
	}
	if n := <-written; n > maxFileSize+1<<20 {
		t.Errorf("Load read %d bytes of the FIFO, the limit is %d", n, maxFileSize)
	}
}

func TestLoadSmallFIFOAndDevZero(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), ".gitlab-ci.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() { _ = os.WriteFile(fifo, []byte("test:\n  image: busybox:1.35\n  script: [echo hi]\n"), 0) }()
	if p, _, err := Load(fifo, Options{ProjectPath: "g/p"}); err != nil || len(p.Jobs()) != 1 {
		t.Errorf("Load(small FIFO) = %v", err)
	}

	start := time.Now()
	_, _, err := Load("/dev/zero", Options{})
	if err == nil || !strings.Contains(err.Error(), "/dev/zero: more than the") || time.Since(start) > 5*time.Second {
		t.Errorf("Load(/dev/zero) = %v after %s", err, time.Since(start))
	}
	if _, _, err := Load(t.TempDir(), Options{}); err == nil || !errors.Is(err, syscall.EISDIR) {
		t.Errorf("Load(directory) = %v", err)
	}
}
