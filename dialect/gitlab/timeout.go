package gitlab

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/slipway-ci/slipway/dialect/internal/yamlutil"
	"go.yaml.in/yaml/v3"
)

// timeout reads a job timeout: a number of seconds (3600, "3600") or a
// human duration as GitLab's ChronicDuration reads it ("1h 30m",
// "10 minutes", "90s", "1 hour and 30 minutes", "1:30:00").
func (p *parser) timeout(key string, n *yaml.Node) (time.Duration, bool) {
	if n = p.value(n); n == nil {
		return 0, false
	}
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!str" && tag != "!!int" && tag != "!!float") {
		p.errorf(n, "%s: expected a duration such as \"1h 30m\" or a number of seconds, got %s", key, yamlutil.Describe(n))
		return 0, false
	}
	d, err := parseDuration(n.Value)
	if err != nil {
		p.errorf(n, "%s: %v", key, err)
		return 0, false
	}
	return d, true
}

// units maps the unit words ChronicDuration accepts to their length.
var units = func() map[string]time.Duration {
	m := map[string]time.Duration{}
	add := func(d time.Duration, names string) {
		for _, n := range strings.Fields(names) {
			m[n] = d
		}
	}
	add(time.Second, "s sec secs second seconds")
	add(time.Minute, "m min mins minute minutes")
	add(time.Hour, "h hr hrs hour hours")
	add(24*time.Hour, "d day days")
	add(7*24*time.Hour, "w wk wks week weeks")
	add(30*24*time.Hour, "mo mos month months")
	add(365*24*time.Hour, "y yr yrs year years")
	return m
}()

// maxTimeout keeps arithmetic far from overflow; no job runs a year.
const maxTimeout = 365 * 24 * time.Hour

// parseDuration reads s as a positive duration.
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid duration %q: expected e.g. \"1h 30m\", \"10 minutes\" or a number of seconds", s)
	t := strings.ToLower(strings.TrimSpace(s))
	var d time.Duration
	var err error
	switch {
	case t == "":
		return 0, bad
	case strings.Contains(t, ":"):
		d, err = clock(t)
	default:
		d, err = spelled(t)
	}
	if err != nil {
		return 0, bad
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid duration %q: must be more than zero", s)
	}
	if d > maxTimeout {
		return 0, fmt.Errorf("invalid duration %q: must be at most a year", s)
	}
	return d, nil
}

// clock reads h:mm:ss or m:ss.
func clock(t string) (time.Duration, error) {
	parts := strings.Split(t, ":")
	if len(parts) > 3 {
		return 0, fmt.Errorf("too many colons")
	}
	var total float64
	for _, part := range parts {
		v, err := strconv.ParseUint(part, 10, 32)
		if err != nil {
			return 0, err
		}
		total = total*60 + float64(v)
	}
	return seconds(total)
}

// spelled reads a sequence of "<number> <unit>" terms, optionally joined
// by "and" or commas; a bare number is seconds.
func spelled(t string) (time.Duration, error) {
	toks := tokenize(t)
	var total float64
	for i := 0; i < len(toks); i++ {
		v, err := strconv.ParseFloat(toks[i], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("expected a number")
		}
		unit := time.Second
		if i+1 < len(toks) {
			if u, ok := units[toks[i+1]]; ok {
				unit = u
				i++
			} else if len(toks) > 1 {
				return 0, fmt.Errorf("unknown unit")
			}
		}
		total += v * unit.Seconds()
		if total > maxTimeout.Seconds() {
			return maxTimeout + time.Second, nil
		}
	}
	if len(toks) == 0 {
		return 0, fmt.Errorf("empty")
	}
	return seconds(total)
}

// tokenize splits "1h30m, 2 minutes and 5s" into numbers and unit words.
func tokenize(t string) []string {
	var toks []string
	var cur strings.Builder
	kind := 0 // 1 number, 2 word
	flush := func() {
		if cur.Len() > 0 && cur.String() != "and" {
			toks = append(toks, cur.String())
		}
		cur.Reset()
		kind = 0
	}
	for _, r := range t {
		k := 2
		switch {
		case unicode.IsDigit(r) || r == '.':
			k = 1
		case unicode.IsSpace(r) || r == ',':
			flush()
			continue
		}
		if k != kind {
			flush()
		}
		kind = k
		cur.WriteRune(r)
	}
	flush()
	return toks
}

func seconds(s float64) (time.Duration, error) {
	if s > maxTimeout.Seconds() {
		return maxTimeout + time.Second, nil
	}
	return time.Duration(math.Round(s * float64(time.Second))), nil
}
