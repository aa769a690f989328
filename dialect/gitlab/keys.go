package gitlab

import "strings"

// reserved are the top-level keys that are not jobs.
var reserved = map[string]bool{
	"default": true, "include": true, "stages": true, "variables": true,
	"workflow": true, "image": true, "services": true, "cache": true,
	"before_script": true, "after_script": true, "types": true,
}

func isReserved(name string) bool { return reserved[name] }

// isHidden: keys starting with "." are templates, never run.
func isHidden(name string) bool { return strings.HasPrefix(name, ".") }

// ignoredJobKeys are GitLab job keywords slipway reads past with a
// warning: they steer GitLab's scheduling, artifacts or integrations,
// none of which a local run has.
var ignoredJobKeys = keySet(`coverage dast_configuration
	environment hooks id_tokens identity interruptible manual_confirmation
	pages publish release resource_group retry
	start_in`)

// skipJobKeys mark jobs that do not run a script in a container at all;
// such a job is skipped with a warning instead of failing for want of a
// script.
var skipJobKeys = keySet(`trigger run`)

// ignoredDefaultKeys are default: keywords slipway ignores with a warning.
var ignoredDefaultKeys = keySet(`artifacts hooks id_tokens identity interruptible retry`)

// ignoredImageKeys are image:/services: options for other executors.
var ignoredImageKeys = keySet(`docker kubernetes`)

func keySet(s string) map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(s) {
		m[k] = true
	}
	return m
}
