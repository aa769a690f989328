package secret

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// Benchmarks stream 50 MB of build-log-like text through the masker in
// 32 KiB writes (the size io.Copy and the Docker log demultiplexer use);
// BenchmarkPassThrough is the same copy with no masker, for the ratio.
//
//	go test -run '^$' -bench . -benchtime 10x ./secret/

const benchSize = 50 << 20

var benchData = sync.OnceValue(func() []byte { return genLog(benchSize) })

// genLog makes size bytes of build log with a secret (or its base64) leaked
// every 5000 lines.
func genLog(size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields(`go: downloading github.com/slipway-ci/slipway v1.2.3 ok PASS
		FAIL --- RUN Step 3/12 : RUN apk add --no-cache git make gcc musl-dev
		npm WARN deprecated request@2.88.2 compiling src/main.rs warning: unused
		variable error[E0425] /usr/local/bin/docker-entrypoint.sh Pulling from
		library/golang sha256 Digest: Status: Downloaded newer image for
		= 0.012s coverage: 81.3% of statements export PATH=$PATH:/opt/bin`)
	secrets := benchSecrets(30)
	var b bytes.Buffer
	for line := 0; b.Len() < size; line++ {
		fmt.Fprintf(&b, "2024-06-11T12:%02d:%02d.%03dZ ", line/3600%60, line/60%60, line%1000)
		for range 3 + rng.IntN(12) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		switch {
		case line%5000 == 0: // a leak now and then: the value or its base64
			s := secrets[fmt.Sprint("S", rng.IntN(30))]
			if rng.IntN(2) == 0 {
				s = base64.StdEncoding.EncodeToString([]byte(s))
			}
			b.WriteString("+ echo " + s)
		case line%7 == 0:
			fmt.Fprintf(&b, "%x", rng.Uint64()) // hex ids and digests
		case line%11 == 0:
			var raw [48]byte
			for i := range raw {
				raw[i] = byte(rng.Uint32())
			}
			b.WriteString(base64.StdEncoding.EncodeToString(raw[:])) // base64 noise
		}
		b.WriteByte('\n')
	}
	return b.Bytes()[:size]
}

// The benchmark's secrets really are found in the benchmark's log.
func TestBenchLogMasked(t *testing.T) {
	secrets := benchSecrets(30)
	log := string(genLog(2 << 20))
	m := NewMasker(secrets)
	got := writeChunks(t, m, log, 1000, 32<<10, 7)
	if strings.Count(got, Mask) < 3 {
		t.Errorf("only %d masks", strings.Count(got, Mask))
	}
	for name, v := range secrets {
		for _, p := range patterns([]string{v}) {
			if strings.Contains(got, p) {
				t.Errorf("%s: %q left in the log", name, p)
			}
		}
	}
}

// benchSecrets returns n realistic secrets: API tokens and passwords, plus
// (for n ≥ 3) an RSA-sized PEM key and a service-account JSON blob.
func benchSecrets(n int) map[string]string {
	rng := rand.New(rand.NewPCG(3, 4))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	token := func(n int, alpha string) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	s := make(map[string]string)
	for i := range n {
		switch {
		case i == n-1 && n >= 3:
			var key strings.Builder
			key.WriteString("-----BEGIN RSA PRIVATE KEY-----\n")
			for range 25 {
				key.WriteString(token(64, alnum+"+/") + "\n")
			}
			key.WriteString("-----END RSA PRIVATE KEY-----\n")
			s[fmt.Sprint("S", i)] = key.String()
		case i == n-2 && n >= 3:
			s[fmt.Sprint("S", i)] = fmt.Sprintf("{\n  \"type\": \"service_account\",\n  \"private_key_id\": %q,\n  \"client_email\": \"ci@%s.iam.gserviceaccount.com\"\n}\n",
				token(40, "0123456789abcdef"), token(12, "abcdefghijklmnopqrstuvwxyz"))
		case i%4 == 3:
			s[fmt.Sprint("S", i)] = token(12+rng.IntN(8), alnum+"!#%&*+-=?@^_") // passwords
		default:
			s[fmt.Sprint("S", i)] = "glpat-" + token(20+rng.IntN(20), alnum)
		}
	}
	return s
}

type onlyReader struct{ io.Reader } // hides WriterTo: copy in 32 KiB pieces
type onlyWriter struct{ io.Writer } // hides ReaderFrom

func BenchmarkPassThrough(b *testing.B) {
	data := benchData()
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.CopyBuffer(onlyWriter{io.Discard}, onlyReader{bytes.NewReader(data)}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMask50MB(b *testing.B) {
	data := benchData()
	buf := make([]byte, 32<<10)
	for _, n := range []int{0, 1, 30} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			m := NewMasker(benchSecrets(n))
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				w := m.Writer(onlyWriter{io.Discard})
				if _, err := io.CopyBuffer(w, onlyReader{bytes.NewReader(data)}, buf); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewMasker30(b *testing.B) {
	secrets := benchSecrets(30)
	b.ReportAllocs()
	for b.Loop() {
		NewMasker(secrets)
	}
}
