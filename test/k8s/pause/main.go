// Command pause is the sandbox ("pause") container of the test cluster's
// pods: PID 1 of the pod sandbox, it waits for SIGTERM/SIGINT and exits 0,
// reaping any zombies meanwhile (as registry.k8s.io/pause does). Built
// statically (CGO_ENABLED=0) into a FROM-scratch image by
// scripts/k8s-cluster.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
