package gitlab

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"1h 30m":                  90 * time.Minute,
		"1h30m":                   90 * time.Minute,
		"10 minutes":              10 * time.Minute,
		"1 minute":                time.Minute,
		"3600":                    time.Hour,
		"90s":                     90 * time.Second,
		"90 sec":                  90 * time.Second,
		"2 hours and 5 minutes":   2*time.Hour + 5*time.Minute,
		"1 day, 2 hours":          26 * time.Hour,
		"1 week":                  7 * 24 * time.Hour,
		"1.5h":                    90 * time.Minute,
		"1:02:03":                 time.Hour + 2*time.Minute + 3*time.Second,
		"5:00":                    5 * time.Minute,
		"  45 MINUTES ":           45 * time.Minute,
		"1 hr 1 min 1 s":          time.Hour + time.Minute + time.Second,
		"3 mins":                  3 * time.Minute,
		"1mo":                     30 * 24 * time.Hour,
		"0.5":                     500 * time.Millisecond,
		"1 hour 30 minutes 0 sec": 90 * time.Minute,
	}
	for in, want := range good {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := []string{"", "forever", "h", "1 parsec", "1 2", "-5", "0", "0s", "1:2:3:4", "1:x", "2 years", "1e400", "NaN", "1..5h", "5m h"}
	for _, in := range bad {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}
