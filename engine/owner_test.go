package engine

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestOwnerGone(t *testing.T) {
	host, _ := os.Hostname()
	me := Owner()
	parts := strings.Split(me, ":")
	if len(parts) != 5 || parts[0] != host || parts[1] != strconv.Itoa(os.Getpid()) {
		t.Fatalf("Owner() = %q, want host:pid:start:boot:pidns", me)
	}
	ns := parts[4]
	start, _ := strconv.ParseUint(parts[2], 10, 64)

	// A process that has exited.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := OwnerOf(cmd.Process.Pid)

	for owner, want := range map[string]bool{
		me: false,
		// This PID, but a process that started earlier: the PID was reused.
		strings.Join([]string{host, parts[1], strconv.FormatUint(start-1, 10), parts[3], ns}, ":"): true,
		// This PID and start time, in another boot.
		strings.Join([]string{host, parts[1], parts[2], "00000000", ns}, ":"): true,
		// A process of another PID namespace (a runner in a container
		// that shares the host's name): its PIDs are not ours to judge.
		strings.Join([]string{host, "999999", "1", parts[3], "4000000000"}, ":"):                             false,
		strings.Join([]string{host, parts[1], strconv.FormatUint(start-1, 10), parts[3], "4000000000"}, ":"): false,
		// Written before the namespace was recorded: judged as then.
		strings.Join([]string{host, parts[1], strconv.FormatUint(start-1, 10), parts[3]}, ":"): true,
		host + ":" + parts[1]: false, // the old form: by PID only
		dead:                  true,
		host + ":" + strconv.Itoa(cmd.Process.Pid): true,
		"other-host:" + parts[1] + ":1:abcdef12":   false,
		"other-host:999999":                        false,
		host + ":x:1:2":                            false,
		host:                                       false,
		"":                                         false,
	} {
		if got := OwnerGone(owner); got != want {
			t.Errorf("OwnerGone(%q) = %v, want %v", owner, got, want)
		}
	}
}

// The command name in /proc/PID/stat may hold spaces and parentheses.
func TestStartTimeOfOddName(t *testing.T) {
	dir := t.TempDir()
	exe := dir + "/a) b ("
	if err := os.Symlink("/bin/sleep", exe); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	o := OwnerOf(cmd.Process.Pid)
	if strings.Count(o, ":") != 4 || OwnerGone(o) {
		t.Errorf("OwnerOf(sleep) = %q, gone %v", o, OwnerGone(o))
	}
}
