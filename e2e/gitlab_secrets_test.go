package e2e

import "testing"

// TestGitLabJobSecrets: a job's secrets: come from --secret, as a file by
// default and as the value with file: false; only the job's own steps get
// them (not its services, not other jobs), and their values are masked.
func TestGitLabJobSecrets(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
deploy:
  image: busybox:1.35
  services:
  - name: busybox:1.35
    alias: svc
    command: ["sh", "-c", "echo \"service sees [${DB_PASSWORD:-nothing}]\" > /builds/group/project/svc.txt; sleep 30"]
  secrets:
    DB_PASSWORD:
      vault: production/db/password@ops
    API_TOKEN:
      vault: production/api/token@ops
      file: false
  script:
  - case "$DB_PASSWORD" in /*) echo "DB_PASSWORD is a file";; esac
  - cat "$DB_PASSWORD"; echo
  - echo "token $API_TOKEN"
  - for i in $(seq 50); do test -f svc.txt && break; sleep 0.1; done; cat svc.txt
other:
  image: busybox:1.35
  script:
  - echo "other job sees [${API_TOKEN:-nothing}]"
`)
	r := p.run("exec", "--secret", "DB_PASSWORD=s3cr3t-db-pw", "--secret", "API_TOKEN=tok-123456")
	wantCode(t, r, 0)
	mustContain(t, r, "DB_PASSWORD is a file\n", "[MASKED]\n", "token [MASKED]\n",
		"service sees [nothing]", "other job sees [nothing]",
		"secrets: DB_PASSWORD is taken from --secret DB_PASSWORD=VALUE; slipway does not contact vault")
	mustNotContain(t, r, "s3cr3t-db-pw", "tok-123456")

	r = p.run("exec", "--secret", "DB_PASSWORD=s3cr3t-db-pw")
	wantCode(t, r, 2)
	mustContain(t, r, `API_TOKEN needs secret "API_TOKEN", which was not given (use --secret API_TOKEN=VALUE)`)
}

// TestGitLabFileSecretWithoutTmp: in an image without /tmp, a file secret
// is written beside the checkout (as gitlab-runner's <project>.tmp), not
// silently left empty.
func TestGitLabFileSecretWithoutTmp(t *testing.T) {
	p := newProject(t, ".gitlab-ci.yml", `
deploy:
  image: {name: "`+noTmpImage+`", pull_policy: never}
  secrets:
    DB_PASSWORD:
      vault: production/db/password@ops
  script:
  - test ! -d /tmp && echo "no /tmp here"
  - echo "file at $DB_PASSWORD"
  - test "$(cat "$DB_PASSWORD")" = s3cr3t-db-pw && echo "the value is there"
`)
	r := p.run("exec", "--secret", "DB_PASSWORD=s3cr3t-db-pw")
	wantCode(t, r, 0)
	mustContain(t, r, "no /tmp here\n", "file at /builds/group/project.tmp/", "the value is there\n")
	mustNotContain(t, r, "s3cr3t-db-pw")
}
