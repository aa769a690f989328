package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestHostSettings: Drone's devices, cap_add and network_mode: host are
// refused, with their positions, before anything starts unless the run is
// trusted; in a trusted run each one reaches the container. The host's
// loopback listener below is reachable only from the host's network
// namespace, so a step that reaches it really left the job's namespace.
func TestHostSettings(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "hello from the host loopback")
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	p := newProject(t, ".drone.yml", fmt.Sprintf(`kind: pipeline
name: default
volumes:
- name: null-device
  host:
    path: /dev/null
steps:
- name: plain
  image: busybox:1.35
  commands:
  - c=$(grep CapEff /proc/self/status | cut -f2); [ $(( 0x$c & 0x1000 )) -eq 0 ] && echo plain has no NET_ADMIN
  - test -e /dev/slipway-null || echo plain has no device
  - nc -w 2 127.0.0.1 %[1]d </dev/null || echo plain cannot reach the host loopback
- name: host
  image: busybox:1.35
  devices:
  - name: null-device
    path: /dev/slipway-null
  cap_add: [NET_ADMIN]
  network_mode: host
  commands:
  - test -c /dev/slipway-null && echo device mapped
  - c=$(grep CapEff /proc/self/status | cut -f2); [ $(( 0x$c & 0x1000 )) -ne 0 ] && echo cap_add gave NET_ADMIN
  - nc -w 2 127.0.0.1 %[1]d </dev/null
`, port))

	r := p.run("exec")
	wantCode(t, r, 2)
	mustContain(t, r,
		".drone.yml:17:5: devices: the host device /dev/null needs a trusted run (slipway exec --trusted)",
		".drone.yml:19:13: cap_add: NET_ADMIN needs a trusted run",
		".drone.yml:20:3: network_mode: host needs a trusted run")
	mustNotContain(t, r, "Running job")

	r = p.run("exec", "--trusted")
	wantCode(t, r, 0)
	mustContain(t, r, "plain has no NET_ADMIN\n", "plain has no device\n", "plain cannot reach the host loopback\n",
		"device mapped\n", "cap_add gave NET_ADMIN\n", "hello from the host loopback\n")
}

// TestRunnerConfigurationHostSettings: what the runner configuration sets
// (volumes, cap_add, devices, environment) reaches every container without
// --trusted;
// forbid_host_access refuses a file's host settings even with --trusted;
// allowed_host_paths limits the host paths a trusted file may mount.
func TestRunnerConfigurationHostSettings(t *testing.T) {
	shared := t.TempDir()
	if err := os.WriteFile(filepath.Join(shared, "marker"), []byte("from the configuration\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newProject(t, ".gitlab-ci.yml", `
variables:
  OVERRIDDEN: by-the-file
test:
  image: busybox:1.35
  services:
  - name: busybox:1.35
    alias: svc
    command: ["sh", "-c", "test -c /dev/slipway-null && test -d /cache && echo service-has-both > /cache/svc; sleep 30"]
  script:
  - cat /shared/marker
  - touch /shared/x 2>/dev/null || echo shared is read-only
  - echo job > /cache/job && echo cache volume
  - test -c /dev/slipway-null && echo device mapped
  - c=$(grep CapEff /proc/self/status | cut -f2); [ $(( 0x$c & 0x1000 )) -ne 0 ] && echo cap_add gave NET_ADMIN
  - for i in $(seq 100); do test -f /cache/svc && break; sleep 0.1; done; cat /cache/svc
  - echo "runner env $FROM_RUNNER $OVERRIDDEN"
`, "config.toml", fmt.Sprintf(`[[runners]]
environment = ["FROM_RUNNER=from-the-configuration", "OVERRIDDEN=by-the-configuration"]
[runners.docker]
volumes = ["/cache", "%s:/shared:ro"]
cap_add = ["NET_ADMIN"]
devices = ["/dev/null:/dev/slipway-null"]
`, shared))
	r := p.run("exec", "--config", "config.toml")
	wantCode(t, r, 0)
	mustContain(t, r, "from the configuration\n", "shared is read-only\n", "cache volume\n", "device mapped\n", "cap_add gave NET_ADMIN\n", "service-has-both\n",
		"runner env from-the-configuration by-the-file\n")
	if _, err := os.Stat(filepath.Join(shared, "x")); err == nil {
		t.Error("the job wrote to a read-only volume of the configuration")
	}

	hostDir := t.TempDir()
	q := newProject(t, ".drone.yml", `kind: pipeline
name: default
steps:
- name: s
  image: busybox:1.35
  cap_add: [SYS_PTRACE]
  volumes:
  - name: data
    path: /data
  commands: [ls /data]
volumes:
- name: data
  host:
    path: `+hostDir+`
`, "forbid.toml", "[[runners]]\n[runners.docker]\nforbid_host_access = true\n",
		"allowed.toml", "[[runners]]\n[runners.docker]\nallowed_host_paths = [\"/srv/ci/*\"]\n")
	r = q.run("exec", "--trusted", "--config", "forbid.toml")
	wantCode(t, r, 2)
	mustContain(t, r, ".drone.yml:6:13: cap_add: SYS_PTRACE: the runner configuration forbids it (forbid_host_access)",
		".drone.yml:8:5: volumes: the runner configuration forbids host paths (forbid_host_access)")
	mustNotContain(t, r, "Running job")
	r = q.run("exec", "--trusted", "--config", "allowed.toml")
	wantCode(t, r, 2)
	mustContain(t, r, ".drone.yml:8:5: volumes: the host path "+hostDir+" is outside the runner configuration's allowed_host_paths (/srv/ci/*)")
	mustNotContain(t, r, "cap_add", "Running job")
}
