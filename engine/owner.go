package engine

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Owner names this process, the value of the slipway.owner label: it lets
// a later run tell leftovers of a dead run from a live one. It is
// "host:pid:start:boot:pidns": the process's start time (in clock ticks
// since boot) and the first 8 characters of the kernel's boot ID, so that
// a PID reused by another process, or the same PID after a reboot, does
// not make a dead run's objects look alive forever; and its PID
// namespace, because a PID means something only there: a runner in a
// container that shares the host's name (--network host) must not take
// the host's live runs for dead ones. Where /proc is missing it is
// "host:pid", which OwnerGone judges by the PID alone.
func Owner() string {
	return OwnerOf(os.Getpid())
}

// OwnerOf is the owner string of process pid of this host.
func OwnerOf(pid int) string {
	host, _ := os.Hostname()
	o := host + ":" + strconv.Itoa(pid)
	start, err := startTime(pid)
	boot, berr := bootID()
	ns, nerr := pidNamespace(pid)
	if err != nil || berr != nil || nerr != nil {
		return o
	}
	return fmt.Sprintf("%s:%d:%s:%s", o, start, boot, ns)
}

// OwnerGone is true when owner is a process of this host that has exited:
// its boot is over, its PID is free, or the PID now belongs to a process
// that started at another time. Owners on other hosts or in another PID
// namespace, or unparsable ones, are never taken for gone.
func OwnerGone(owner string) bool {
	parts := strings.Split(owner, ":")
	me, _ := os.Hostname()
	if (len(parts) != 2 && len(parts) != 4 && len(parts) != 5) || parts[0] != me {
		return false
	}
	if len(parts) == 5 {
		if ns, err := pidNamespace(os.Getpid()); err != nil || ns != parts[4] {
			return false // its PIDs are not ours to look up
		}
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	if len(parts) == 2 { // written by a slipway before start times
		return false
	}
	if boot, err := bootID(); err == nil && boot != parts[3] {
		return true
	}
	start, err := startTime(pid)
	return err == nil && strconv.FormatUint(start, 10) != parts[2]
}

// startTime is field 22 of /proc/PID/stat: when the process started, in
// clock ticks since boot.
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses itself: count fields after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// bootID is the start of the kernel's random boot ID, new at every boot.
func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if len(id) < 8 {
		return "", fmt.Errorf("boot id %q", id)
	}
	return id[:8], nil
}

// pidNamespace names the PID namespace of process pid: the inode of
// /proc/PID/ns/pid ("4026531836").
func pidNamespace(pid int) (string, error) {
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	if err != nil {
		return "", err
	}
	// pid:[4026531836]
	_, inode, ok := strings.Cut(strings.TrimSuffix(link, "]"), "[")
	if !ok || inode == "" {
		return "", fmt.Errorf("/proc/%d/ns/pid: %q", pid, link)
	}
	return inode, nil
}
