package e2e

import (
	"testing"
)

func TestDroneStepsRunInOrderWithSetE(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
type: docker
name: default
steps:
- name: build
  image: busybox:1.35
  environment:
    TARGET: linux
  commands:
  - echo "building for $TARGET in $(pwd)"
  - ls
- name: test
  image: busybox:1.35
  commands:
  - echo testing
  - false
  - echo never
- name: deploy
  image: busybox:1.35
  commands:
  - echo deploying
`, "main.go", "package main\n")
	r := p.run("exec")
	wantCode(t, r, 1)
	mustContain(t, r, "+ echo \"building for $TARGET in $(pwd)\"\n", "building for linux in /drone/src\n", "main.go\n", "+ false\n")
	mustNotContain(t, r, "never\n", "deploying\n")
}

func TestDroneServicesOnLocalhostAndByName(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: default
steps:
- name: test
  image: debian:bookworm
  commands:
  - redis-cli -h 127.0.0.1 set k v
  - redis-cli -h cache get k
  - PGPASSWORD=mysecretpassword psql -h localhost -U postgres -tAc "select 'pg' || 'ok'"
services:
- name: cache
  image: redis:7.0
- name: database
  image: postgres:15
  environment:
    POSTGRES_USER: postgres
    POSTGRES_PASSWORD: mysecretpassword
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "v\n", "pgok\n", `Job "default" passed`)
}

func TestDrone0xServicesMap(t *testing.T) {
	p := newProject(t, ".drone.yml", `
services:
  cache:
    image: redis:7.0
pipeline:
  test:
    image: debian:bookworm
    commands:
      - redis-cli -h localhost ping
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "PONG\n")
}

func TestDroneMultiplePipelines(t *testing.T) {
	p := newProject(t, ".drone.yml", `
kind: pipeline
name: first
steps:
- name: a
  image: busybox:1.35
  commands: [echo from-first]
---
kind: pipeline
name: second
depends_on: [first]
steps:
- name: b
  image: busybox:1.35
  commands: [echo from-second]
`)
	r := p.run("exec")
	wantCode(t, r, 0)
	mustContain(t, r, "from-first\n", "from-second\n", `Job "first" passed`, `Job "second" passed`)
}
