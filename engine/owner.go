package engine

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Owner names this process as "host:pid", the value of the slipway.owner
// label: it lets a later run tell leftovers of a dead run from a live one.
func Owner() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid())
}

// OwnerGone is true when owner is a process of this host that has exited.
// Owners on other hosts, or unparsable ones, are never taken for gone.
func OwnerGone(owner string) bool {
	host, pidStr, ok := strings.Cut(owner, ":")
	me, _ := os.Hostname()
	if !ok || host != me {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
