package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// droneLinesOf is what getLog answered before it streamed: the whole log
// split into lines and encoded at once. The streamed answer must be these
// bytes exactly.
func droneLinesOf(data []byte) []byte {
	type droneLine struct {
		Pos  int    `json:"pos"`
		Out  string `json:"out"`
		Time int64  `json:"time"`
	}
	lines := []droneLine{}
	for i := 0; len(data) > 0; i++ {
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 {
			n = len(data)
		}
		lines = append(lines, droneLine{Pos: i, Out: string(data[:n])})
		data = data[n:]
	}
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(lines)
	return buf.Bytes()
}

// TestLineEncoderBytes: the streamed encoding of logs with every kind of
// character JSON escapes, cut at every place, is encoding/json's.
func TestLineEncoderBytes(t *testing.T) {
	logs := []string{
		"", "\n", "\n\n", "no newline", "$ echo build\nbuild\npartial",
		"é\nß€𝄞\n", "<a href=\"x\">&amp;</a>\\\t\r\x00\x1f\n", "\u2028\u2029\n",
		"bad \xff\xfe utf-8\n\xe2\x82", "cut \xe2\x82\xac\xf0\x9f\x98", "\xc3",
	}
	r := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "\n", "é", "€", "𝄞", "\xff", "\xe2\x82", "<", "\"", "\u2028", "\x01"}
	for range 200 {
		var b strings.Builder
		for range r.Intn(60) {
			b.WriteString(alphabet[r.Intn(len(alphabet))])
		}
		logs = append(logs, b.String())
	}
	for _, log := range logs {
		want := droneLinesOf([]byte(log))
		for size := 1; size <= len(log)+1; size++ {
			var got bytes.Buffer
			enc := newLineEncoder(&got)
			for rest := []byte(log); len(rest) > 0; {
				n := min(size, len(rest))
				enc.Write(rest[:n])
				rest = rest[n:]
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("log %q read %d bytes at a time:\n got %s\nwant %s", log, size, got.Bytes(), want)
			}
		}
	}
}

// TestDroneLogBoundedMemory: a 32 MiB log read through Drone's log API
// is encoded as it is read: the server's heap never holds the log (before,
// it held it several times over).
func TestDroneLogBoundedMemory(t *testing.T) {
	const size = 32 << 20
	ts := startServer(t, Options{})
	_, builds := ts.pushFile(t, "octo/biglog", ".gitlab-ci.yml", gitlabFile)
	jobs, _ := ts.st.Jobs(context.Background(), builds[0].ID)
	line := []byte(strings.Repeat("x", 40) + " <é> \"quoted\" " + "\n")
	chunk := bytes.Repeat(line, (1<<20)/len(line))
	var offset int64
	for offset < size {
		var err error
		if offset, err = ts.st.AppendLog(context.Background(), jobs[0].ID, offset, chunk); err != nil {
			t.Fatal(err)
		}
	}
	wantLines := int(offset) / len(line)
	chunk = nil

	defer debug.SetGCPercent(debug.SetGCPercent(10))
	// Finalizers of earlier tests' servers take more than one cycle.
	for range 3 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc

	req, _ := http.NewRequest("GET", ts.url+"/api/repos/octo/biglog/builds/1/logs/1/1", nil)
	req.Header.Set("Authorization", "Bearer "+ts.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %s", resp.Status)
	}
	// Count the entries as they come, and the heap between reads.
	buf := make([]byte, 256<<10)
	entries, total, carry := 0, 0, 0
	for {
		n, err := io.ReadFull(resp.Body, buf[carry:])
		n += carry
		entries += bytes.Count(buf[:n], []byte(`{"pos":`))
		total += n - carry
		// An entry's start cut by the read is counted with the next.
		carry = copy(buf, buf[n-6:n])
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if entries != wantLines || total < size {
		t.Errorf("%d entries in %d bytes, want %d entries of a %d-byte log", entries, total, wantLines, offset)
	}
	if grew := peak - base; grew > 16<<20 {
		t.Errorf("the heap grew by %d MiB reading a %d MiB log, want < 16 MiB", grew>>20, size>>20)
	}
	t.Logf("heap %d KiB, grew by %d KiB reading a %d MiB log", base>>10, (peak-base)>>10, size>>20)
}
