// Package kube implements engine.Engine on Kubernetes with client-go: a
// Drone `type: kubernetes` pipeline, or a GitLab job when the runner
// configuration selects the Kubernetes executor, runs as one pod, and the
// cluster schedules it. The runner's code is the same as for Docker.
//
// # One pod per job
//
// Setup creates, for a job (a Drone pipeline, a GitLab job):
//
//   - the pod slipway-<run>-<key>, restartPolicy Never, with
//   - an init container "slipway-init" (the helper image) that receives the
//     checkout as a tar on its stdin, through an attach session, and unpacks
//     it into the workspace volume (an emptyDir mounted at WorkspacePath in
//     every container: the same paths as on Docker, and the services see the
//     checkout too, as on Docker);
//   - the services as native sidecars: init containers with restartPolicy
//     Always, all of the job's variables, and a TCP readinessProbe on the
//     service's port (HEALTHCHECK_TCP_PORT, else the image's lowest exposed
//     port). hostAliases map every service name and alias to 127.0.0.1: a pod
//     is one network namespace, so services answer on localhost (Drone) and
//     by name (both);
//   - a holder container (the helper image, a shell that sleeps) that keeps
//     the pod running between steps, and whose PID namespace the steps join;
//   - a Secret <pod>-env with the services' variables (env valueFrom
//     secretKeyRef: values, secrets among them, are not in the pod's spec,
//     which more people may read than secrets), and a
//     kubernetes.io/dockerconfigjson Secret <pod>-pull with the registry
//     credentials the runner resolved, referenced by imagePullSecrets.
//
// Setup returns once the holder runs, i.e. the kubelet has started every
// service. Each step is then an ephemeral container added to the pod
// (pods/ephemeralcontainers): it shares the pod's network (localhost reaches
// the services) and volumes, and targets the holder's PID namespace. Its
// variables go to a Secret <pod>-<step> made just before. The script is fed
// on stdin through pods/attach (stdin and stdinOnce: the runtime keeps it
// until the attach delivers it, then closes it); the output is read from
// pods/log with follow, which has every byte from the container's start,
// stdout and stderr in order, whenever the attach begins; the exit code is
// the container's terminated state in the pod's status. A watch of the one
// pod feeds every wait, Inspect and Dial: they cost no request of their own;
// a watch of the pod's events reports a failed pull as soon as the kubelet
// does (its status says so only at the kubelet's next sync, ~10 s later).
//
// A Drone step with detach: true reaches StartService rather than Run: it
// is added the same way and left running (its script is its argument,
// nothing writes to its stdin); its name is among the pod's hostAliases,
// which the Spec's Aliases give, and it ends with the pod.
//
// Why ephemeral containers: a pod's containers are fixed when it is created,
// and the engine learns each step only when the runner runs it (the images
// of Drone's steps differ). Ephemeral containers are the one way to add a
// container, with its own image, to a running pod (GA in 1.25). They cannot
// have resources, ports or probes, which steps do not need, and cannot be
// removed, which does not matter for a pod that lives as long as its job.
//
// # Stopping a step
//
// Kubernetes has no API to stop one container. Cancelling a step (Ctrl-C, a
// timeout) therefore runs, by exec in the holder, a shell script (builtins
// only) that finds the step's processes by the container id in their
// cgroup: SIGTERM to its first process and that process's group (the
// command the script's shell runs, as Docker's init passes it on with
// TINI_KILL_PROCESS_GROUP), then after StopGrace SIGKILL to all of them. This works because the step shares the
// holder's PID namespace, where its process is not PID 1 (signals to PID 1
// are ignored without a handler). If that fails, the pod is deleted. The
// pod stays otherwise, so GitLab's after_script still runs after a cancel,
// with the services. Kill (a second Ctrl-C) sends SIGKILL at once, and
// Destroy then deletes the pod without grace.
//
// # Services' health
//
// The runner's health check is the same as on Docker: it waits for the
// service's ports, then warns with the service's last log lines and goes
// on. The ports come from ImageInfo: the kubelet has no image API, so the
// engine asks Config.Images (the local Docker Engine when one answers);
// without it a service has no known ports and only HEALTHCHECK_TCP_PORT is
// waited for. Dial connects to the pod's IP when this process can reach
// pod IPs (in the cluster, on a node); when it cannot, the service's
// readiness stands for the connection (its probe tries the first port).
// The readiness probes do not hold the steps back (only a startupProbe
// would, and a failing one makes the kubelet restart the service forever,
// never starting the steps: the runner's wait with a warning is GitLab's
// behaviour). One difference remains: the kubelet starts the next of a
// pod's containers only once a sidecar runs, so a service that exits at
// once holds the pod; Setup then fails the job, saying which service exited
// with which code and its last output, where Docker warns and goes on.
//
// # Images and credentials
//
// Pull policies map to imagePullPolicy: always → Always, if-not-exists →
// IfNotPresent, never → Never; no policy → Always for :latest or untagged,
// else IfNotPresent. Images with credentials get Always (unless never): the
// registry checks the credentials at each start, so revoked credentials stop
// working at once. Credentials are keyed by repository (host/path), so two
// repositories of one registry can use different ones. The steps'
// credentials are in the pull secret from Setup on (Spec.Steps); were a
// step's not there yet (a runner that does not fill Spec.Steps), Run adds
// them before the step, and since the kubelet may read its cached copy of
// the secret a moment before that update, the first failed pull is then
// retried once, after the kubelet's back-off.
// Identity tokens are refused: the kubelet only uses usernames and
// passwords.
//
// The warning of Drone's documentation: images cached on a node can be
// used by any pipeline, credentials or not. The protection against that
// is the kubelet's: Kubernetes 1.35 checks by default
// (KubeletEnsureSecretPulledImages, beta) that a pod may use an image the
// kubelet pulled with credentials, and pulls it again, with the pod's own
// credentials, when it cannot tell; clusters without it need the
// AlwaysPullImages admission plugin, or pull_policy = "always" with
// allowed_pull_policies = ["always"] in slipway's configuration. A pull
// that fails (ErrImagePull, ImagePullBackOff, InvalidImageName,
// ErrImageNeverPull) fails the step, or Setup for a service, at once, with
// the image and the kubelet's reason; every wait is bounded by PollTimeout;
// a pod that cannot be scheduled fails with the scheduler's message.
//
// # Resources, accounts, trust
//
// Config.Requests and Limits are the job's: cpu and memory go to the pod's
// own resources (PodLevelResources, beta and on by default in 1.34), which
// bound the steps too, since ephemeral containers cannot have resources of
// their own; every request also goes to the holder, so that a cluster
// without pod-level resources still reserves them for the job. Other
// resources (ephemeral-storage) go to the holder. The pod gets no service
// account token unless Config.ServiceAccount names an account (a job's code
// gets no API credentials by default), and no service links. privileged
// becomes securityContext.privileged, host volumes hostPath volumes: the
// runner refused both already unless the run is trusted.
//
// # Cleanup
//
// Every object carries the labels slipway.run, slipway.job and
// slipway.owner (values made valid for Kubernetes: ':' and '/' replaced,
// with a hash when changed) and the raw values as slipway.dev/run, /job and
// /owner annotations; the secrets are owned by the pod, so the garbage
// collector removes them with it. Destroy deletes the job's pod (1 s of
// grace, none after a Kill) and secrets by label, whatever Setup got to, and
// waits until the pod is gone. Collect removes the pods and secrets of runs
// whose owner, a process of this host, is gone. A runner in a pod cannot
// judge an owner in another pod, so with Config.OwnerPod (the runner's own
// pod, in the engine's namespace) each job's pod is owned by the runner's
// pod: deleting that one, even outright, has the garbage collector delete
// the jobs' pods, and their secrets with them. Ping checks that the owner
// pod is there with its UID.
//
// # Limits
//
//   - Volumes and imagePullSecrets are fixed when the pod is created: the
//     runner gives the engine every step before Setup (Spec.Steps), whose
//     volumes are declared and whose credentials go in the pull secret then.
//   - GitLab's services each have a network address on Docker; in a pod they
//     share one, so two services on the same port clash (Setup refuses two
//     that keep their image's command and expose the same port).
//   - An entrypoint cleared ([""]) with no command keeps the image's: a
//     container's command cannot be empty on Kubernetes.
//   - Host names must be DNS names: GitLab's primary alias of a service
//     image with a '/' ("tutum__wordpress") cannot be given (the API refuses
//     it in hostAliases, and the kubelet rewrites a pod's /etc/hosts whenever
//     it starts a container); the secondary one ("tutum-wordpress") and
//     DNS-valid aliases work. Names are lower-cased.
//
// # Cluster requirements
//
// Kubernetes 1.29 or newer (native sidecars; Ping checks), a helper image
// with a POSIX sh, kill and tar (busybox), and in the namespace a Role
// allowing: pods get, list, watch, create, delete; pods/ephemeralcontainers
// update, patch; pods/attach and pods/exec create, get; pods/log get;
// secrets get, list, create, update, patch, delete; events list, watch
// (without it, failed pulls are only seen in the pod's status, about 10 s
// later).
package kube
