#!/usr/bin/env bash
# A real single-node Kubernetes cluster for slipway's Kubernetes engine
# tests, without any container registry:
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet (and
#   kubectl): ONE multi-call binary built from the Go module proxy by the
#   separate Go module test/k8s (k8s.io/kubernetes, version in its go.mod),
#   cached in $SLIPWAY_K8S_CACHE keyed by a hash of go.mod/go.sum/main.go;
#   etcd: Debian's etcd-server, on 127.0.0.1 only;
#   container runtime: a SECOND containerd (Debian's binary, NOT Docker's
#   instance) with its own config, socket, root and state, CRI plugin,
#   cgroupfs, overlayfs, and a locally built FROM-scratch pause image;
#   CNI: Debian's containernetworking-plugins, bridge slipway-k8s0 with the
#   private pod subnet 10.244.0.0/24 (host side 10.244.0.1);
#   images: busybox:1.35, debian:bookworm, redis:7.0, postgres:15 copied
#   from Docker (docker save | ctr import), so pods use them with
#   imagePullPolicy IfNotPresent/Never.
#
# Usage: scripts/k8s-cluster.sh up|down|purge|env|status|load IMAGE...|selftest
#   up        build/start whatever is missing, wait until the kubelet is
#             healthy, the node Ready and the default service account
#             exists; a no-op (<1s) when the cluster is already up and
#             healthy (it only re-copies default images Docker has rebuilt)
#   down      stop the controller-manager and scheduler, delete all pods
#             (the kubelet tears them down), stop the kubelet, remove any
#             sandbox left (CRI), stop containerd, kube-apiserver, etcd;
#             undo the host changes below. The API objects (etcd data) are
#             dropped: every `up` starts with an empty cluster. Kept:
#             certificates, the build, the images in containerd
#   purge     down, then remove the state dir (not the build cache)
#   env       print `export` lines for the tests: KUBECONFIG,
#             SLIPWAY_TEST_KUBECONFIG and SLIPWAY_K8S=1 (tests opt in on
#             those, not on KUBECONFIG alone)
#   status    what runs; exit 0 only if the cluster is up and healthy
#   load IMAGE...  copy Docker images into the cluster's containerd (skips
#             those already there with the same Docker image ID)
#   selftest  go test ./smoke in test/k8s against the running cluster
#
# The API server listens on https://127.0.0.1:6443 (or the next free
# port; see $STATE/ports.env), etcd on 127.0.0.1:2379 (or 12379...). No
# kube-proxy and no CoreDNS: Service IPs do not route, pods get a
# resolv.conf whose nameserver (10.244.0.1) does not answer (lookups fail
# fast), names resolve through pod.spec.hostAliases. Pods have no default
# route: they reach each other and the host (10.244.0.1), nothing else.
# One cluster per machine (bridge, cgroup and node IP are fixed).
#
# Host changes while up, undone by `down`: the bridge slipway-k8s0; one
# iptables FORWARD rule accepting traffic between pods on that bridge
# (Docker's FORWARD policy is DROP); the CNI portmap plugin's CNI-HOSTPORT-*
# nat chains once a pod uses a hostPort; cgroups /slipway-k8s in every
# cgroup hierarchy; a shared bind mount of the kubelet root dir; paths the
# kubelet/containerd hard-code (/var/lib/kubelet/device-plugins,
# /var/log/containers, /var/lib/cni, /run/netns) if they did not exist. The
# kubelet makes no iptables chains (makeIPTablesUtilChains: false) and runs
# in its own mount namespace where the kernel sysctls it insists on
# (vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1, ...) are
# faked by bind-mounting files over /proc/sys: the host's sysctls are NOT
# changed. Docker and its containerd are not touched (images are only read
# with `docker save`; the pause image is built as slipway-k8s/pause:KEY).
#
# Env: SLIPWAY_K8S_STATE  state dir (default /var/lib/slipway-k8s)
#      SLIPWAY_K8S_RUN    runtime dir, containerd socket (default
#                         /run/slipway-k8s)
#      SLIPWAY_K8S_CACHE  build cache (default /var/cache/slipway-k8s)
#      SLIPWAY_K8S_NICE   nice level of the daemons (default 5; the build
#                         runs at 15)
#      SLIPWAY_K8S_V      klog verbosity of the Kubernetes components (0)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

MOD_DIR=$repo/test/k8s
STATE=${SLIPWAY_K8S_STATE:-/var/lib/slipway-k8s}
RUN=${SLIPWAY_K8S_RUN:-/run/slipway-k8s}
CACHE=${SLIPWAY_K8S_CACHE:-/var/cache/slipway-k8s}
NICE=${SLIPWAY_K8S_NICE:-5}
VERBOSITY=${SLIPWAY_K8S_V:-0}

NODE=slipway-k8s
BRIDGE=slipway-k8s0
POD_CIDR=10.244.0.0/24
NODE_IP=10.244.0.1 # host side of the pod bridge; the node's InternalIP
SERVICE_CIDR=10.96.0.0/24
SERVICE_IP=10.96.0.1
CGROUP=slipway-k8s # cgroup parent of all pods (kubelet cgroupRoot)
SOCK=$RUN/containerd.sock
CTR_NS=k8s.io
DEFAULT_IMAGES=(busybox:1.35 debian:bookworm redis:7.0 postgres:15)
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet)

PKI=$STATE/pki
BIN=$STATE/bin
LOGS=$STATE/logs
PIDS=$STATE/pids
KROOT=$STATE/kubelet
ADMIN_KUBECONFIG=$STATE/admin.kubeconfig

export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

k8s_version() {
	awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3; exit }
		$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$MOD_DIR/go.mod"
}

# ----------------------------------------------------------------- helpers

kc() { "$BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" --cache-dir "$STATE/kubectl-cache" "$@"; }

ctr_() { ctr -a "$SOCK" -n "$CTR_NS" "$@"; }

pidfile() { echo "$PIDS/$1.pid"; }

# alive PID: the process exists and is not a zombie (our daemons are
# orphans: whether PID 1 reaps them promptly is not up to us).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# pid_of NAME: the pid of our running NAME, or fails. A pid counts only if
# the process's command line mentions our state dir (pid reuse).
pid_of() {
	local f pid
	f=$(pidfile "$1")
	[ -s "$f" ] || return 1
	pid=$(<"$f")
	alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/" || return 1
	echo "$pid"
}

running() { pid_of "$1" >/dev/null; }

any_running() {
	local c
	for c in "${COMPONENTS[@]}"; do
		running "$c" && return 0
	done
	return 1
}

# start_bg NAME CMD...: runs CMD as a daemon in its own session; log in
# $LOGS/NAME.log (the previous one is kept as NAME.log.1), pid in $PIDS.
start_bg() {
	local name=$1 log
	shift
	log=$LOGS/$name.log
	[ -f "$log" ] && mv -f "$log" "$log.1"
	printf '==== %s %s\n' "$(ts)" "$*" >"$log"
	# Not a process group leader, so setsid and nice exec: $! is the daemon.
	# (and must not inherit the lock fds 8 and 9)
	setsid nice -n "$NICE" "$@" >>"$log" 2>&1 </dev/null 8>&- 9>&- &
	echo $! >"$(pidfile "$name")"
	log "started $name (pid $!, log $log)"
}

# stop_bg [-t SECONDS] NAME...: SIGTERM to all of them, SIGKILL to those
# still running after SECONDS (default 20).
stop_bg() {
	local secs=20 name pid i left
	local -A pids=()
	if [ "$1" = -t ]; then
		secs=$2
		shift 2
	fi
	for name in "$@"; do
		if pid=$(pid_of "$name"); then
			pids[$name]=$pid
			kill -TERM "$pid" 2>/dev/null || true
		fi
		rm -f "$(pidfile "$name")"
	done
	for ((i = 0; i < secs * 10; i++)); do
		left=
		for name in "${!pids[@]}"; do
			alive "${pids[$name]}" && left=1
		done
		[ -n "$left" ] || break
		sleep 0.1
	done
	for name in "${!pids[@]}"; do
		if alive "${pids[$name]}"; then
			log "$name (pid ${pids[$name]}) did not stop within ${secs}s; killing it"
			kill -KILL "${pids[$name]}" 2>/dev/null || true
		fi
		log "stopped $name"
	done
}

# wait_for DESC SECONDS CMD...: polls CMD every 0.25s.
wait_for() {
	local desc=$1 secs=$2 end
	shift 2
	end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= end)); then
			log "timed out after ${secs}s waiting for $desc"
			return 1
		fi
		sleep 0.25
	done
}

# must_run NAME: fails with the tail of NAME's log if it is not running.
must_run() {
	running "$1" && return 0
	tail -n 40 "$LOGS/$1.log" >&2 2>/dev/null || true
	die "$1 is not running (log above: $LOGS/$1.log)"
}

# write_file FILE: stdin to FILE, atomically and only if it changes (the
# running containerd watches its CNI config dir).
write_file() {
	local tmp
	tmp=$STATE/.new.$$.${1##*/}
	cat >"$tmp"
	if cmp -s "$tmp" "$1"; then
		rm -f "$tmp"
	else
		mv -f "$tmp" "$1"
	fi
}

port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# free_port VAR PREFERRED FALLBACK_BASE: sets VAR to PREFERRED if nothing
# listens on it (and no other VAR took it), else to the first free port
# from FALLBACK_BASE on.
free_port() {
	local p
	for p in "$2" $(seq "$3" $(($3 + 200))); do
		if ! port_busy "$p" && [[ " $TAKEN " != *" $p "* ]]; then
			TAKEN+=" $p"
			printf -v "$1" %s "$p"
			return 0
		fi
	done
	die "no free TCP port near $2 / $3"
}

load_ports() {
	[ -s "$STATE/ports.env" ] || return 1
	# shellcheck disable=SC1091
	. "$STATE/ports.env"
}

# pick_ports: (only while nothing of ours runs) reuses the recorded ports
# if they are still free, else picks free ones near the defaults.
pick_ports() {
	local ETCD_PORT='' ETCD_PEER_PORT='' APISERVER_PORT='' KCM_PORT='' SCHED_PORT='' KUBELET_PORT='' KUBELET_HEALTHZ_PORT=''
	TAKEN=
	load_ports || true
	free_port ETCD_PORT "${ETCD_PORT:-2379}" 12379
	free_port ETCD_PEER_PORT "${ETCD_PEER_PORT:-2380}" 12380
	free_port APISERVER_PORT "${APISERVER_PORT:-6443}" 16443
	free_port KCM_PORT "${KCM_PORT:-10257}" 20257
	free_port SCHED_PORT "${SCHED_PORT:-10259}" 20259
	free_port KUBELET_PORT "${KUBELET_PORT:-10250}" 20250
	free_port KUBELET_HEALTHZ_PORT "${KUBELET_HEALTHZ_PORT:-10248}" 20248
	cat >"$STATE/ports.env.tmp" <<-EOF
		ETCD_PORT=$ETCD_PORT
		ETCD_PEER_PORT=$ETCD_PEER_PORT
		APISERVER_PORT=$APISERVER_PORT
		KCM_PORT=$KCM_PORT
		SCHED_PORT=$SCHED_PORT
		KUBELET_PORT=$KUBELET_PORT
		KUBELET_HEALTHZ_PORT=$KUBELET_HEALTHZ_PORT
	EOF
	mv "$STATE/ports.env.tmp" "$STATE/ports.env"
}

# ------------------------------------------------------------------- build

LDFLAGS=

# build_vars: sets LDFLAGS, KUBE_BIN (the cached multi-call binary for the
# current test/k8s sources), PAUSE_BIN and PAUSE_KEY.
build_vars() {
	local ver key pkey
	have go || die "go not found (install Go or put it on PATH)"
	ver=$(k8s_version)
	[ -n "$ver" ] || die "cannot find the k8s.io/kubernetes version in $MOD_DIR/go.mod"
	local minor=${ver#v1.}
	minor=${minor%%.*}
	LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$ver"
	LDFLAGS+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	LDFLAGS+=" -X k8s.io/component-base/version.gitTreeState=clean"
	key=$({
		cat "$MOD_DIR/go.mod" "$MOD_DIR/go.sum" "$MOD_DIR/main.go"
		go version
		go env GOARCH
		echo "CGO_ENABLED=0 $LDFLAGS -trimpath"
	} | sha256sum | cut -c1-16)
	KUBE_BIN=$CACHE/kube-$ver-$key
	pkey=$({
		cat "$MOD_DIR/pause/main.go"
		go version
		go env GOARCH
	} | sha256sum | cut -c1-16)
	PAUSE_BIN=$CACHE/pause-$pkey
	PAUSE_KEY=$pkey
	PAUSE_IMAGE=slipway-k8s/pause:$PAUSE_KEY
}

# ensure_build: the multi-call binary and the pause binary, from the cache
# or built; symlinks in $BIN.
ensure_build() {
	local ver bin pbin n t0
	build_vars
	ver=$(k8s_version)
	bin=$KUBE_BIN pbin=$PAUSE_BIN
	mkdir -p "$CACHE" "$BIN"
	local had_bin=
	[ -x "$bin" ] && had_bin=1
	if [ ! -x "$bin" ] || [ ! -x "$pbin" ]; then
		(
			exec 9>"$CACHE/build.lock"
			if ! flock -n 9; then
				log "waiting for another build ($CACHE/build.lock)"
				flock 9
			fi
			# Static and independent of a C toolchain (and of the caller's
			# CGO_ENABLED, which would otherwise mean another 8-minute build).
			export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
			if [ ! -x "$bin" ]; then
				t0=$(date +%s)
				log "building Kubernetes $ver components from the Go module proxy (test/k8s: $(basename "$bin")); a cold build takes ~6-9 min on 2 cores"
				(cd "$MOD_DIR" && nice -n 15 go build -trimpath -ldflags "$LDFLAGS" -o "$bin.tmp" .) ||
					die "go build in $MOD_DIR failed"
				mv -f "$bin.tmp" "$bin"
				elapsed "$t0" >"$bin.buildtime"
				log "built $bin ($(du -h "$bin" | cut -f1)) in $(elapsed "$t0")"
			fi
			if [ ! -x "$pbin" ]; then
				(cd "$MOD_DIR" && CGO_ENABLED=0 nice -n 15 go build -trimpath -ldflags "-s -w" -o "$pbin.tmp" ./pause) ||
					die "go build of the pause binary failed"
				mv -f "$pbin.tmp" "$pbin"
			fi
			# Keep only the two newest builds of each.
			for n in kube pause; do
				find "$CACHE" -maxdepth 1 -name "$n-*" -type f ! -name '*.tmp' ! -name '*.buildtime' -printf '%T@ %p\n' |
					sort -rn | tail -n +3 | cut -d' ' -f2- | while read -r old; do
					[ "$old" = "$bin" ] || [ "$old" = "$pbin" ] || rm -f "$old" "$old.buildtime"
				done
			done
		)
	fi
	[ -n "$had_bin" ] || BUILT="built Kubernetes $ver in $(cat "$bin.buildtime")"
	for n in kube kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
		ln -sfn "$bin" "$BIN/$n"
	done
	ln -sfn "$pbin" "$BIN/pause"
}

# --------------------------------------------------------------- packages

ensure_host_pkgs() {
	local had_etcd=1
	pkg_installed etcd-server || had_etcd=
	ensure_pkgs etcd-server containerd containernetworking-plugins openssl iproute2 iptables util-linux curl
	if [ -z "$had_etcd" ]; then
		# The package enables an etcd *service* on :2379; ours runs from here.
		if [ -d /run/systemd/system ]; then
			systemctl disable --now etcd >/dev/null 2>&1 || true
		else
			service etcd stop >/dev/null 2>&1 || true
		fi
	fi
	if ! have docker || ! docker info >/dev/null 2>&1; then
		die "the Docker daemon is needed (images are copied from it)"
	fi
}

# ----------------------------------------------------------- certificates

# gen_key FILE: an EC P-256 private key (PKCS#8).
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# gen_cert NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]: NAME.key +
# NAME.crt signed by the cluster CA (kept if present).
gen_cert() {
	local name=$1 subj=$2 eku=$3 san=${4:-}
	[ -s "$PKI/$name.crt" ] && [ -s "$PKI/$name.key" ] && return 0
	gen_key "$PKI/$name.key"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$eku"
		[ -z "$san" ] || echo "subjectAltName=$san"
	} >"$PKI/$name.ext"
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-CAcreateserial -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

ensure_pki() {
	mkdir -p "$PKI"
	chmod 0700 "$PKI"
	if [ ! -s "$PKI/ca.crt" ] || [ ! -s "$PKI/ca.key" ]; then
		rm -f "$PKI"/*.crt "$PKI"/*.key
		gen_key "$PKI/ca.key"
		openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=slipway-k8s-ca" -days 3650 -sha256 \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
			-out "$PKI/ca.crt" 2>/dev/null
		log "generated the cluster CA ($PKI/ca.crt)"
	fi
	gen_cert apiserver "/CN=kube-apiserver" serverAuth \
		"DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:$NODE,IP:127.0.0.1,IP:$SERVICE_IP,IP:$NODE_IP"
	gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
	gen_cert admin "/O=system:masters/CN=slipway-admin" clientAuth
	gen_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
	gen_cert scheduler "/CN=system:kube-scheduler" clientAuth
	gen_cert kubelet-client "/O=system:nodes/CN=system:node:$NODE" clientAuth
	gen_cert kubelet-server "/CN=$NODE" serverAuth "DNS:$NODE,DNS:localhost,IP:$NODE_IP,IP:127.0.0.1"
	# for the aggregation layer (and the request-header CA that the
	# controller-manager and scheduler look for)
	gen_cert front-proxy-client "/CN=front-proxy-client" clientAuth
	if [ ! -s "$PKI/sa.key" ] || [ ! -s "$PKI/sa.pub" ]; then
		gen_key "$PKI/sa.key"
		openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	fi
	chmod 0600 "$PKI"/*.key
}

# write_kubeconfig FILE CERT_NAME: a kubeconfig for https://127.0.0.1 with
# the client certificate $PKI/CERT_NAME.{crt,key} (written atomically).
write_kubeconfig() {
	local file=$1 name=$2
	(umask 077 && write_file "$file") <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: slipway-k8s
		  cluster:
		    server: https://127.0.0.1:$APISERVER_PORT
		    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
		users:
		- name: $name
		  user:
		    client-certificate-data: $(base64 -w0 <"$PKI/$name.crt")
		    client-key-data: $(base64 -w0 <"$PKI/$name.key")
		contexts:
		- name: slipway-k8s
		  context:
		    cluster: slipway-k8s
		    user: $name
		current-context: slipway-k8s
	EOF
}

# ----------------------------------------------------------------- configs

write_configs() {
	mkdir -p "$STATE/containerd" "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/pod-logs" "$KROOT" "$STATE/sysctl"
	write_kubeconfig "$ADMIN_KUBECONFIG" admin
	write_kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
	write_kubeconfig "$STATE/scheduler.kubeconfig" scheduler
	write_kubeconfig "$STATE/kubelet.kubeconfig" kubelet-client

	write_file "$STATE/containerd/config.toml" <<-EOF
		# written by scripts/k8s-cluster.sh: slipway's own containerd for the
		# test cluster (Docker's containerd is a different instance)
		version = 2
		root = "$STATE/containerd/root"
		state = "$RUN/containerd"
		oom_score = 0
		disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
		  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
		  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

		[grpc]
		  address = "$SOCK"
		[ttrpc]
		  address = "$SOCK.ttrpc"
		[debug]
		  address = ""
		  level = "info"
		[metrics]
		  address = ""

		[plugins."io.containerd.internal.v1.opt"]
		  path = "$STATE/containerd/opt"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$(normalize_ref "$PAUSE_IMAGE")"
		  # negative oom_score_adj writes fail on these VMs
		  restrict_oom_score_adj = true
		  enable_selinux = false
		  stream_server_address = "127.0.0.1"
		  stream_server_port = "0"
		  max_concurrent_downloads = 3
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "runc"
		    discard_unpacked_layers = false
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        SystemdCgroup = false
		        Root = "$RUN/runc"
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$STATE/cni/net.d"
		    max_conf_num = 1
	EOF

	# No default route in pods: they reach each other and the host
	# (10.244.0.1), nothing beyond this machine.
	write_file "$STATE/cni/net.d/10-slipway-k8s.conflist" <<-EOF
		{
		  "cniVersion": "0.4.0",
		  "name": "slipway-k8s",
		  "plugins": [
		    {
		      "type": "bridge",
		      "bridge": "$BRIDGE",
		      "isGateway": true,
		      "ipMasq": false,
		      "hairpinMode": true,
		      "ipam": {
		        "type": "host-local",
		        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
		        "dataDir": "$STATE/cni/ipam"
		      }
		    },
		    {"type": "portmap", "capabilities": {"portMappings": true}}
		  ]
		}
	EOF

	# Pods get no working DNS server (there is no CoreDNS; nothing answers
	# on 10.244.0.1:53, so lookups fail fast): names resolve through
	# /etc/hosts, i.e. pod.spec.hostAliases.
	printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$NODE_IP" | write_file "$STATE/resolv.conf"

	write_file "$STATE/kubelet-config.yaml" <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		address: $NODE_IP
		port: $KUBELET_PORT
		readOnlyPort: 0
		healthzBindAddress: 127.0.0.1
		healthzPort: $KUBELET_HEALTHZ_PORT
		authentication:
		  anonymous:
		    enabled: false
		  webhook:
		    enabled: true
		  x509:
		    clientCAFile: $PKI/ca.crt
		authorization:
		  mode: Webhook
		tlsCertFile: $PKI/kubelet-server.crt
		tlsPrivateKeyFile: $PKI/kubelet-server.key
		rotateCertificates: false
		serverTLSBootstrap: false
		containerRuntimeEndpoint: unix://$SOCK
		imageServiceEndpoint: unix://$SOCK
		cgroupDriver: cgroupfs
		cgroupRoot: /$CGROUP
		cgroupsPerQOS: true
		failCgroupV1: false
		failSwapOn: false
		protectKernelDefaults: false
		# no KUBE-FIREWALL/canary chains in the host's iptables
		makeIPTablesUtilChains: false
		resolvConf: $STATE/resolv.conf
		# nothing answers there (see resolv.conf); set to avoid a
		# MissingClusterDNS warning event on every pod
		clusterDNS: [$NODE_IP]
		clusterDomain: cluster.local
		podLogsDir: $STATE/pod-logs
		volumePluginDir: $STATE/volume-plugins
		podCIDR: $POD_CIDR
		maxPods: 110
		serializeImagePulls: false
		evictionHard:
		  memory.available: 100Mi
		  nodefs.available: 1%
		  nodefs.inodesFree: 1%
		  imagefs.available: 1%
		  imagefs.inodesFree: 1%
		evictionPressureTransitionPeriod: 30s
		# never garbage-collect the images copied in from Docker
		imageGCHighThresholdPercent: 100
		imageGCLowThresholdPercent: 99
		imageMinimumGCAge: 87600h
		containerLogMaxSize: 10Mi
		containerLogMaxFiles: 2
		shutdownGracePeriod: 0s
		nodeStatusUpdateFrequency: 5s
		logging:
		  format: text
	EOF
}

# ------------------------------------------------------- host preparation

iptables_rule=(FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment slipway-k8s -j ACCEPT)

host_up() {
	local d
	# The pod bridge, created up front so the node IP (the kubelet's
	# address) exists before the first pod; the CNI bridge plugin reuses it.
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge
	fi
	ip addr show dev "$BRIDGE" | grep -qF " $NODE_IP/" ||
		ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	# Bridged pod-to-pod traffic goes through iptables FORWARD
	# (br_netfilter), whose policy Docker sets to DROP.
	if have iptables && ! iptables -C "${iptables_rule[@]}" 2>/dev/null; then
		iptables -I "${iptables_rule[@]}"
	fi
	# The CNI portmap plugin (hostPort) creates CNI-HOSTPORT-* chains on
	# first use; remember whether they are ours to remove.
	if have iptables && ! iptables -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1; then
		touch "$STATE/portmap-chains-ours"
	fi
	# cgroupRoot /slipway-k8s in every v1 hierarchy (cpuset needs cpus/mems).
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		mkdir -p "/sys/fs/cgroup/$CGROUP"
	else
		for d in /sys/fs/cgroup/*/; do
			d=${d%/}
			[ "$(stat -fc %T "$d")" = cgroupfs ] || continue
			mkdir -p "$d/$CGROUP"
			if [ -f "$d/cpuset.cpus" ]; then
				[ -n "$(cat "$d/$CGROUP/cpuset.cpus")" ] || cat "$d/cpuset.cpus" >"$d/$CGROUP/cpuset.cpus"
				[ -n "$(cat "$d/$CGROUP/cpuset.mems")" ] || cat "$d/cpuset.mems" >"$d/$CGROUP/cpuset.mems"
			fi
		done
	fi
	# The kubelet (in its own mount namespace) mounts volumes under its
	# root dir; a shared bind mount propagates them to the host, where
	# containerd looks for them.
	mkdir -p "$KROOT"
	if ! mountpoint -q "$KROOT"; then
		mount --bind "$KROOT" "$KROOT"
	fi
	mount --make-rshared "$KROOT"
}

# unmount_under DIR...: unmounts everything mounted below (and at) DIRs,
# deepest first.
unmount_under() {
	local d m
	for d in "$@"; do
		[ -d "$d" ] || continue
		awk '{ print $5 }' /proc/self/mountinfo | sed 's/\\040/ /g' |
			awk -v d="$d" 'index($0, d "/") == 1 || $0 == d' | sort -r | while read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "WARNING: cannot unmount $m"
		done
	done
}

# remove_portmap_chains: the portmap plugin's chains, if we caused them and
# no port mapping is left in them.
remove_portmap_chains() {
	[ -e "$STATE/portmap-chains-ours" ] || return 0
	if iptables -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1; then
		[ "$(iptables -t nat -S CNI-HOSTPORT-DNAT | grep -c '^-A')" = 0 ] || return 0
		iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null || true
		iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null || true
		iptables -t nat -D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ 2>/dev/null || true
		local c
		for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
			iptables -t nat -F "$c" 2>/dev/null || true
			iptables -t nat -X "$c" 2>/dev/null || true
		done
	fi
	rm -f "$STATE/portmap-chains-ours"
}

host_down() {
	local d
	unmount_under "$KROOT" "$RUN" "$STATE/containerd"
	if ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link delete "$BRIDGE" || true
	fi
	if have iptables; then
		while iptables -C "${iptables_rule[@]}" 2>/dev/null; do
			iptables -D "${iptables_rule[@]}" || break
		done
		remove_portmap_chains
	fi
	# cgroups, deepest first (only empty ones can go).
	for d in /sys/fs/cgroup/"$CGROUP" /sys/fs/cgroup/*/"$CGROUP"; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
		[ -d "$d" ] && log "WARNING: $d is still in use; left in place"
	done
	return 0
}

# Paths outside the state dir that the kubelet, containerd and its shims
# use whatever they are told (hard-coded there). Those that do not exist
# before `up` are listed in $STATE/created-paths and removed by `down` once
# empty.
FOREIGN_PATHS=(/var/lib/kubelet /var/lib/kubelet/device-plugins /var/log/containers
	/var/lib/cni /var/lib/cni/results /run/netns /run/containerd /run/containerd/s)

note_foreign_paths() {
	local p list=$STATE/created-paths
	touch "$list"
	for p in "${FOREIGN_PATHS[@]}"; do
		[ -e "$p" ] || grep -qxF -- "$p" "$list" || echo "$p" >>"$list"
	done
}

clean_foreign_paths() {
	local l p list=$STATE/created-paths keep=()
	# the kubelet's /var/log/containers symlinks to our pod logs
	for l in /var/log/containers/*.log; do
		[ -L "$l" ] || continue
		case $(readlink "$l") in "$STATE/pod-logs/"*) rm -f "$l" ;; esac
	done
	[ -s "$list" ] || return 0
	if grep -qxF /var/lib/kubelet/device-plugins "$list"; then
		rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint
	fi
	# deepest first
	while read -r p; do
		if [ -e "$p" ] && ! rmdir "$p" 2>/dev/null; then
			keep+=("$p")
		fi
	done < <(sort -r "$list")
	if [ ${#keep[@]} -gt 0 ]; then
		printf '%s\n' "${keep[@]}" >"$list"
	else
		rm -f "$list"
	fi
}

# -------------------------------------------------------------- containerd

start_containerd() {
	running containerd && return 0
	mkdir -p "$RUN" "$STATE/containerd/root"
	rm -f "$SOCK" "$SOCK.ttrpc"
	start_bg containerd containerd --config "$STATE/containerd/config.toml"
	wait_for "containerd ($SOCK)" 30 ctr_ version || true
	must_run containerd
	ctr_ version >/dev/null 2>&1 || die "containerd does not answer on $SOCK (log: $LOGS/containerd.log)"
}

# normalize_ref REF: the containerd name of a Docker image reference
# (busybox:1.35 -> docker.io/library/busybox:1.35).
normalize_ref() {
	local r=$1 first
	case $r in *@*) ;; *) [[ ${r##*/} == *:* ]] || r=$r:latest ;; esac
	first=${r%%/*}
	if [[ $r != */* ]]; then
		r=docker.io/library/$r
	elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then
		r=docker.io/$r
	fi
	echo "$r"
}

# load_images IMAGE...: docker save | ctr import for the images not yet in
# our containerd with the same Docker image ID (recorded as a label).
load_images() {
	local img id ref need=() ids=() i
	running containerd || die "containerd is not running (scripts/k8s-cluster.sh up first)"
	for img in "$@"; do
		id=$(docker image inspect -f '{{.Id}}' "$img" 2>/dev/null) ||
			die "image $img is not in Docker (build it first, e.g. scripts/testimages.sh)"
		ref=$(normalize_ref "$img")
		if ctr_ images ls "name==$ref" 2>/dev/null | grep -qF "slipway-k8s.docker-id=$id"; then
			continue
		fi
		need+=("$img")
		ids+=("$id")
	done
	[ ${#need[@]} -eq 0 ] && return 0
	log "copying ${need[*]} from Docker into the cluster's containerd"
	docker save "${need[@]}" | ctr_ images import --snapshotter overlayfs - >/dev/null ||
		die "ctr import of ${need[*]} failed"
	for i in "${!need[@]}"; do
		ref=$(normalize_ref "${need[$i]}")
		ctr_ images label "$ref" "slipway-k8s.docker-id=${ids[$i]}" >/dev/null ||
			die "image ${need[$i]} is not known as $ref after the import"
	done
}

# ensure_pause_image: a FROM-scratch image with $BIN/pause, in Docker and
# in our containerd.
ensure_pause_image() {
	local ctx out
	if ! docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1; then
		ctx=$(mktemp -d)
		cp "$BIN/pause" "$ctx/pause"
		printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\nLABEL slipway.k8s.pause=%s\n' "$PAUSE_KEY" >"$ctx/Dockerfile"
		# The legacy builder needs no buildx plugin; FROM scratch is offline.
		out=$(DOCKER_BUILDKIT=0 docker build -q -t "$PAUSE_IMAGE" "$ctx" 2>&1) || {
			printf '%s\n' "$out" >&2
			rm -rf "$ctx"
			die "docker build of $PAUSE_IMAGE failed"
		}
		rm -rf "$ctx"
		# older pause builds
		docker image ls --format '{{.Repository}}:{{.Tag}}' slipway-k8s/pause |
			grep -vxF "$PAUSE_IMAGE" | xargs -r docker image rm >/dev/null 2>&1 || true
	fi
	load_images "$PAUSE_IMAGE"
}

# ---------------------------------------------------------- control plane

start_etcd() {
	running etcd && return 0
	mkdir -p "$STATE/etcd"
	chmod 0700 "$STATE/etcd"
	start_bg etcd /usr/bin/etcd --name "$NODE" --data-dir "$STATE/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "$NODE=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
		--logger zap --log-level warn \
		--auto-compaction-mode periodic --auto-compaction-retention 10m --snapshot-count 10000
	wait_for "etcd on 127.0.0.1:$ETCD_PORT" 30 etcd_healthy || true
	must_run etcd
	etcd_healthy || die "etcd is not healthy (log: $LOGS/etcd.log)"
}

etcd_healthy() {
	curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'
}

apiserver_ready() { kc get --raw /readyz --request-timeout=3s >/dev/null 2>&1; }

start_apiserver() {
	running kube-apiserver && return 0
	start_bg kube-apiserver "$BIN/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --secure-port "$APISERVER_PORT" --advertise-address "$NODE_IP" \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
		--kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority "$PKI/ca.crt" \
		--kubelet-preferred-address-types InternalIP \
		--requestheader-client-ca-file "$PKI/ca.crt" \
		--requestheader-allowed-names front-proxy-client \
		--requestheader-username-headers X-Remote-User \
		--requestheader-group-headers X-Remote-Group \
		--requestheader-extra-headers-prefix X-Remote-Extra- \
		--proxy-client-cert-file "$PKI/front-proxy-client.crt" \
		--proxy-client-key-file "$PKI/front-proxy-client.key" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$PKI/sa.pub" \
		--service-account-signing-key-file "$PKI/sa.key" \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--authorization-mode Node,RBAC \
		--enable-admission-plugins NodeRestriction \
		--allow-privileged=true \
		--profiling=false \
		--event-ttl 1h \
		--v "$VERBOSITY"
	wait_for "kube-apiserver /readyz" 90 apiserver_ready || true
	must_run kube-apiserver
	apiserver_ready || {
		tail -n 30 "$LOGS/kube-apiserver.log" >&2
		die "kube-apiserver is not ready (log above: $LOGS/kube-apiserver.log)"
	}
}

start_controller_manager() {
	running kube-controller-manager && return 0
	start_bg kube-controller-manager "$BIN/kube-controller-manager" \
		--kubeconfig "$STATE/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
		--leader-elect=false \
		--use-service-account-credentials=true \
		--service-account-private-key-file "$PKI/sa.key" \
		--root-ca-file "$PKI/ca.crt" \
		--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--allocate-node-cidrs=false \
		--flex-volume-plugin-dir "$STATE/volume-plugins" \
		--profiling=false \
		--v "$VERBOSITY"
}

start_scheduler() {
	running kube-scheduler && return 0
	start_bg kube-scheduler "$BIN/kube-scheduler" \
		--kubeconfig "$STATE/scheduler.kubeconfig" \
		--authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
		--authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port "$SCHED_PORT" \
		--leader-elect=false \
		--profiling=false \
		--v "$VERBOSITY"
}

# ----------------------------------------------------------------- kubelet

# The kubelet sets these sysctls on the host unless they already have
# these values (or refuses to start with protectKernelDefaults); we show it
# the values it wants inside its own mount namespace instead.
KUBELET_SYSCTLS=(vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1
	kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000)

start_kubelet() {
	local s name want binds=()
	running kubelet && return 0
	for s in "${KUBELET_SYSCTLS[@]}"; do
		name=${s%%=*} want=${s#*=}
		[ -r "/proc/sys/$name" ] || continue
		[ "$(cat "/proc/sys/$name")" = "$want" ] && continue
		echo "$want" >"$STATE/sysctl/${name//\//.}"
		binds+=("$STATE/sysctl/${name//\//.}" "/proc/sys/$name")
	done
	# shellcheck disable=SC2016
	start_bg kubelet unshare --mount --propagation unchanged -- /bin/sh -c '
		set -e
		mount --make-rprivate /proc
		n=$1; shift
		while [ "$n" -gt 0 ]; do mount --bind "$1" "$2"; shift 2; n=$((n - 2)); done
		exec "$@"' kubelet-ns "${#binds[@]}" "${binds[@]}" \
		"$BIN/kubelet" --config "$STATE/kubelet-config.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
		--root-dir "$KROOT" --hostname-override "$NODE" --node-ip "$NODE_IP" --v "$VERBOSITY"
}

kubelet_healthy() {
	[ "$(curl -fsS --max-time 2 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" 2>/dev/null)" = ok ]
}

node_ready() {
	[ "$(kc get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' --request-timeout=3s 2>/dev/null)" = True ]
}

default_sa() { kc -n default get serviceaccount default --request-timeout=3s; }

# ------------------------------------------------------------------- main

healthy() {
	local c
	for c in "${COMPONENTS[@]}"; do
		running "$c" || return 1
	done
	load_ports && kubelet_healthy && apiserver_ready && node_ready
}

cmd_up() {
	local t0 t1 img missing=()
	t0=$(date +%s)
	need_root
	mkdir -p "$STATE" "$LOGS" "$PIDS"
	if [ -x "$BIN/kubectl" ] && healthy; then
		# re-copy default images that Docker has rebuilt since
		(load_images "${DEFAULT_IMAGES[@]}") || log "WARNING: could not refresh the default images"
		if have go && (build_vars) && build_vars &&
			[ "$(readlink -f "/proc/$(pid_of kube-apiserver)/exe")" != "$KUBE_BIN" ]; then
			log "WARNING: the cluster runs an older build than test/k8s describes; \`down\` and \`up\` to switch"
		fi
		log "cluster is up and healthy (KUBECONFIG=$ADMIN_KUBECONFIG)"
		return 0
	fi
	ensure_host_pkgs
	BUILT=
	ensure_build
	if any_running; then
		load_ports || die "components run but $STATE/ports.env is missing; run down first"
	else
		pick_ports
		load_ports
	fi
	ensure_pki
	write_configs
	host_up

	note_foreign_paths
	start_containerd
	ensure_pause_image
	for img in "${DEFAULT_IMAGES[@]}"; do
		docker image inspect "$img" >/dev/null 2>&1 || missing+=("$img")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "missing in Docker: ${missing[*]}; running scripts/testimages.sh"
		"$here/testimages.sh"
	fi
	load_images "${DEFAULT_IMAGES[@]}"

	start_etcd
	start_apiserver
	start_controller_manager
	start_scheduler
	t1=$(date +%s)
	start_kubelet
	wait_for "the kubelet's /healthz" 60 kubelet_healthy || true
	must_run kubelet
	wait_for "node $NODE to be Ready" 120 node_ready || {
		tail -n 30 "$LOGS/kubelet.log" >&2
		die "node $NODE is not Ready (log above: $LOGS/kubelet.log)"
	}
	log "node $NODE Ready $(elapsed "$t1") after the kubelet start"
	wait_for "the default service account" 60 default_sa || die "no default service account (log: $LOGS/kube-controller-manager.log)"
	for img in kube-controller-manager kube-scheduler kubelet; do must_run "$img"; done
	log "cluster up in $(elapsed "$t0")${BUILT:+ ($BUILT)}: Kubernetes $(k8s_version), node $NODE, API https://127.0.0.1:$APISERVER_PORT"
	log "KUBECONFIG=$ADMIN_KUBECONFIG  (eval \"\$(scripts/k8s-cluster.sh env)\")"
}

cri_clean() {
	running containerd || return 0
	"$BIN/kube" cri-clean "unix://$SOCK" || true
	# Anything the CRI did not know about (or could not remove).
	local c
	for c in $(ctr_ tasks ls -q 2>/dev/null); do
		ctr_ tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true
	done
	sleep 0.5
	for c in $(ctr_ containers ls -q 2>/dev/null); do
		ctr_ tasks delete -f "$c" >/dev/null 2>&1 || true
		ctr_ containers delete "$c" >/dev/null 2>&1 || true
	done
}

# kill_shims: containerd-shim processes still serving our containerd.
kill_shims() {
	local p
	for p in /proc/[0-9]*; do
		[ -r "$p/cmdline" ] || continue
		if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "$SOCK"; then
			case $(tr '\0' ' ' <"$p/cmdline") in
			*containerd-shim*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
			esac
		fi
	done
}

cmd_down() {
	need_root
	local t0
	t0=$(date +%s)
	load_ports || true
	# No controller re-creates pods, no scheduler binds new ones...
	stop_bg kube-controller-manager kube-scheduler
	# ...and the kubelet removes the running ones.
	if [ -x "$BIN/kubectl" ] && running kube-apiserver && running kubelet && apiserver_ready; then
		kc delete pods --all --all-namespaces --grace-period=3 --timeout=60s --wait >/dev/null 2>&1 ||
			kc delete pods --all --all-namespaces --force --grace-period=0 >/dev/null 2>&1 || true
	fi
	stop_bg kubelet
	cri_clean
	stop_bg -t 30 containerd
	kill_shims
	# (its graceful shutdown can wait on clients' exec/attach streams; the
	# API objects are dropped below anyway)
	stop_bg -t 10 kube-apiserver
	stop_bg etcd
	host_down
	clean_foreign_paths
	# Each `up` starts with an empty cluster: drop the API objects, the
	# kubelet's and CNI's bookkeeping. Kept: certificates, the build, the
	# images in containerd.
	if ! any_running; then
		rm -rf --one-file-system "$STATE/etcd" "$STATE/cni/ipam" "$STATE/pod-logs" "$STATE/kubectl-cache"
		if ! grep -q " ${KROOT}[/ ]" /proc/self/mountinfo; then
			rm -rf --one-file-system "$KROOT"
		fi
	fi
	rm -rf "$RUN"
	log "cluster down in $(elapsed "$t0") (certificates, images and the build kept; \`purge\` removes $STATE)"
}

cmd_status() {
	local c pid rc=0
	for c in "${COMPONENTS[@]}"; do
		if pid=$(pid_of "$c"); then
			printf '%-24s running (pid %s)\n' "$c" "$pid"
		else
			printf '%-24s stopped\n' "$c"
			rc=1
		fi
	done
	if load_ports && [ -x "$BIN/kubectl" ] && running kube-apiserver && apiserver_ready; then
		echo "API server:              https://127.0.0.1:$APISERVER_PORT ready"
		kc get nodes -o wide 2>&1 | sed 's/^/  /'
		echo "pods: $(kc get pods -A --no-headers 2>/dev/null | wc -l)"
		node_ready || rc=1
	else
		echo "API server:              not ready"
		rc=1
	fi
	if running containerd; then
		echo "images in the cluster's containerd:"
		ctr_ images ls -q 2>/dev/null | grep -v '^sha256:' | sed 's/^/  /'
	fi
	echo "KUBECONFIG=$ADMIN_KUBECONFIG"
	return "$rc"
}

cmd_env() {
	echo "export KUBECONFIG=$ADMIN_KUBECONFIG"
	echo "export SLIPWAY_TEST_KUBECONFIG=$ADMIN_KUBECONFIG"
	# engine/kube's real-cluster tests run only with this
	echo "export SLIPWAY_K8S=1"
}

cmd_load() {
	need_root
	[ $# -gt 0 ] || die "usage: $0 load IMAGE..."
	load_images "$@"
	log "loaded: $*"
}

cmd_selftest() {
	[ -s "$ADMIN_KUBECONFIG" ] || die "no cluster (run up first)"
	# Same build settings as the cluster binary: client-go & co. come from
	# the build cache.
	(cd "$MOD_DIR" && GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
		SLIPWAY_TEST_KUBECONFIG=$ADMIN_KUBECONFIG nice -n 10 go test -trimpath -count=1 -v ./smoke)
}

# with_state_lock CMD...: one up/down/load at a time per state dir.
with_state_lock() {
	mkdir -p "$STATE"
	(
		exec 8>"$STATE/.lock"
		if ! flock -n 8; then
			log "waiting for $STATE/.lock (another k8s-cluster.sh run)"
			flock 8
		fi
		"$@"
	)
}

case ${1:-} in
up) with_state_lock cmd_up ;;
down) with_state_lock cmd_down ;;
purge)
	with_state_lock cmd_down
	rm -rf --one-file-system "$STATE"
	log "removed $STATE"
	;;
env) cmd_env ;;
status) cmd_status ;;
load)
	shift
	with_state_lock cmd_load "$@"
	;;
selftest) cmd_selftest ;;
-h | --help | help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" ;;
*) die "usage: $0 up|down|purge|env|status|load IMAGE...|selftest (try --help)" ;;
esac
