# The real node: containerd and runc, a kubelet of the control plane's version, the bridge,
# host-local and loopback CNI plugins, kube-proxy (iptables) and CoreDNS, on which the charts'
# ZooKeeper and Kafka pods really run from the images the stack builds.
#
# Pods get addresses in $POD_SUBNET on the bridge $POD_BRIDGE; nothing is routed or NATed off
# the machine: pods have no default route, and forwarding out of the bridge is dropped. The node
# is tainted: only namespaces made with `scripts/stack real-namespace NAME` place pods on it (the
# kwok nodes keep the rest). Their volumes come from the hikube-local class: `local` volumes, one
# directory each, made by a small provisioner loop; they honour fsGroup as cloud volumes do,
# and cannot be expanded.

NODE_DIR() { echo "$STATE_DIR/node"; }
CONTAINERD_SOCK() { echo "$(NODE_DIR)/containerd.sock"; }
RUNC_ROOT() { echo "$(NODE_DIR)/runc"; }
NODE_BIN() { echo "$CACHE_DIR/kubernetes-node-$K8S_VERSION/bin/$1"; }
VOLUMES_DIR() { echo "$(NODE_DIR)/volumes"; }

ctr_node() { ctr --address "$(CONTAINERD_SOCK)" --namespace k8s.io "$@"; }

node_ready() {
  [[ $(kubectl_stack get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

coredns_healthy() { curl -fsS "http://$POD_GATEWAY:18080/health" >/dev/null 2>&1; }

node_pki() {
  new_cert kube-ca kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  new_cert kube-ca kubelet-serving "/CN=$NODE_NAME" serverAuth "DNS:$NODE_NAME,IP:$POD_GATEWAY"
  new_cert kube-ca kube-proxy "/CN=system:kube-proxy" clientAuth
  write_kubeconfig "$(NODE_DIR)/kubelet.kubeconfig" kubelet-client
  write_kubeconfig "$(NODE_DIR)/kube-proxy.kubeconfig" kube-proxy
}

# The bridge, forwarding only within it, and the sysctls pods need for Services. The previous
# ip_forward value is kept, for `down` to restore.
node_network() {
  [[ -f $(NODE_DIR)/ip_forward.before ]] || cat /proc/sys/net/ipv4/ip_forward >"$(NODE_DIR)/ip_forward.before"
  [[ -f $(NODE_DIR)/bridge_nf.before ]] ||
    cat /proc/sys/net/bridge/bridge-nf-call-iptables >"$(NODE_DIR)/bridge_nf.before" 2>/dev/null || true
  modprobe br_netfilter 2>/dev/null || true
  modprobe overlay 2>/dev/null || true
  if ! ip link show "$POD_BRIDGE" >/dev/null 2>&1; then
    ip link add "$POD_BRIDGE" type bridge
    ip addr add "$POD_GATEWAY/${POD_SUBNET#*/}" dev "$POD_BRIDGE"
  fi
  ip link set "$POD_BRIDGE" up
  # A DNAT to a Service's pod on the same bridge is forwarded back out of it.
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  # Nothing leaves the pod network for anywhere but the host itself.
  iptables -C FORWARD -i "$POD_BRIDGE" ! -o "$POD_BRIDGE" -j DROP 2>/dev/null ||
    iptables -I FORWARD 1 -i "$POD_BRIDGE" ! -o "$POD_BRIDGE" -j DROP
  iptables -C FORWARD -o "$POD_BRIDGE" ! -i "$POD_BRIDGE" -j DROP 2>/dev/null ||
    iptables -I FORWARD 1 -o "$POD_BRIDGE" ! -i "$POD_BRIDGE" -j DROP
  mkdir -p "$(NODE_DIR)/cni"
  # No default route in pods: only the pod network and the Service range, through the host.
  cat >"$(NODE_DIR)/cni/10-hikube.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "hikube",
  "plugins": [
    {
      "type": "bridge", "bridge": "$POD_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$POD_GATEWAY"}]],
               "routes": [{"dst": "$SERVICE_SUBNET"}], "dataDir": "$(NODE_DIR)/cni-ipam"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
}

start_containerd() {
  cat >"$(NODE_DIR)/containerd.toml" <<TOML
version = 2
root = "$(NODE_DIR)/containerd"
state = "$(NODE_DIR)/containerd-state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$(CONTAINERD_SOCK)"
[ttrpc]
  address = "$(CONTAINERD_SOCK).ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$(NODE_DIR)/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The pods' network namespaces live under the node's state, so that "down" finds exactly these.
  netns_mounts_under_state_dir = true
  # This machine lacks CAP_SYS_RESOURCE: a negative oom_score_adj fails every sandbox.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$(RUNC_ROOT)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$(NODE_DIR)/cni"
TOML
  start_daemon containerd containerd --config "$(NODE_DIR)/containerd.toml"
  wait_for containerd 30 ctr_node version || die "containerd: not answering after 30s (log: $LOG_DIR/containerd.log)"
}

# Imports each image whose archive the runtime does not hold yet (kept across `up`s while the
# node's data stays; `down` removes it).
import_images() {
  local dir name sum
  dir=$(IMAGES_DIR)
  mkdir -p "$(NODE_DIR)/imported"
  for name in pause kafka zookeeper; do
    sum=$(sha256sum "$dir/$name.tar" | cut -c1-64)
    [[ $(cat "$(NODE_DIR)/imported/$name" 2>/dev/null) == "$sum" ]] && continue
    log "node: importing the $name image"
    run_logged containerd "$LOG_DIR/setup.log" ctr_node images import "$dir/$name.tar"
    echo "$sum" >"$(NODE_DIR)/imported/$name"
  done
}

start_kubelet() {
  : >"$(NODE_DIR)/resolv.conf"
  cat >"$(NODE_DIR)/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The node's address is the bridge's own (a loopback node IP is refused since 1.34): the API
# server reaches the kubelet there for logs, exec and port-forward.
address: $POD_GATEWAY
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $CERT_DIR/kubelet-serving.crt
tlsPrivateKeyFile: $CERT_DIR/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $CERT_DIR/kube-ca.crt}
# Only the stack's own components hold client certificates of this CA.
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$(CONTAINERD_SOCK)
clusterDNS: [$POD_GATEWAY]
clusterDomain: cluster.local
resolvConf: $(NODE_DIR)/resolv.conf
registerWithTaints:
- {key: $REAL_NODE_TAINT, value: "true", effect: NoSchedule}
# The images cannot be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
serializeImagePulls: false
podLogsDir: $(NODE_DIR)/pod-logs
YAML
  start_daemon kubelet "$(NODE_BIN kubelet)" --config "$(NODE_DIR)/kubelet.yaml" \
    --kubeconfig "$(NODE_DIR)/kubelet.kubeconfig" --root-dir "$(NODE_DIR)/kubelet" \
    --hostname-override "$NODE_NAME" --node-ip "$POD_GATEWAY" \
    --node-labels "type=real,topology.kubernetes.io/zone=zone-real,kubernetes.io/hostname=$NODE_NAME"
  wait_for kubelet 90 node_ready || {
    tail -n 20 "$LOG_DIR/kubelet.log" >&2
    die "kubelet: node $NODE_NAME not Ready after 90s (log: $LOG_DIR/kubelet.log)"
  }
}

start_kube_proxy() {
  write_if_changed "$(NODE_DIR)/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $(NODE_DIR)/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_SUBNET
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
# Node ports only on the node's own address; the machine's sysctls are left as they are.
nodePortAddresses: [$POD_GATEWAY/32]
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
  start_daemon kube-proxy "$(NODE_BIN kube-proxy)" --config "$(NODE_DIR)/kube-proxy.yaml"
  wait_for kube-proxy 30 curl -fsS "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz" ||
    die "kube-proxy: not healthy after 30s (log: $LOG_DIR/kube-proxy.log)"
}

# CoreDNS on the bridge's address, where kubelet points every pod: the cluster's names from the
# API server, nothing else (no upstream: nothing leaves the machine).
start_coredns() {
  cat >"$(NODE_DIR)/Corefile" <<COREFILE
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $POD_GATEWAY
    errors
    health $POD_GATEWAY:18080
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $(KUBECONFIG_FILE) hikube-stack
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
.:53 {
    bind $POD_GATEWAY
    template ANY ANY {
        rcode NXDOMAIN
    }
}
COREFILE
  start_daemon coredns "$CACHE_DIR/coredns-$COREDNS_VERSION/bin/coredns" -conf "$(NODE_DIR)/Corefile" \
    -pidfile "$(NODE_DIR)/coredns.pid"
  wait_for coredns 30 coredns_healthy || die "coredns: not healthy after 30s (log: $LOG_DIR/coredns.log)"
}

# The hikube-local class and its provisioner: a loop that gives each pending claim of the class
# a directory and a `local` volume bound to it, and removes the directory of a released one.
start_provisioner() {
  run_logged kubernetes "$LOG_DIR/setup.log" kubectl_stack apply -f - <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: hikube-local
provisioner: hikube.dev/local
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: false
YAML
  mkdir -p "$(VOLUMES_DIR)"
  start_daemon local-provisioner bash "$(dirname "${BASH_SOURCE[0]}")/provisioner.sh" "$STATE_DIR"
  require_daemon local-provisioner
}

# real-namespace NAME: a namespace whose pods run on the real node.
real_namespace() {
  kubectl_stack apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $1
  annotations:
    scheduler.alpha.kubernetes.io/node-selector: kubernetes.io/hostname=$NODE_NAME
    scheduler.alpha.kubernetes.io/defaultTolerations: '[{"key": "$REAL_NODE_TAINT", "operator": "Exists", "effect": "NoSchedule"}]'
YAML
}

# cluster_dns CMD...: CMD in a mount namespace of its own whose /etc/resolv.conf names the
# cluster's DNS, so that it reaches pods by their in-cluster names over the bridge (the host is
# on it). The rest of the machine is untouched; names outside the cluster do not resolve there.
cluster_dns() {
  local conf
  conf=$(NODE_DIR)/cluster-resolv.conf
  [[ -f $conf ]] || die "cluster-dns: the node is not up (scripts/stack up)"
  exec unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$conf" "$@"
}

node_up() {
  mkdir -p "$(NODE_DIR)"
  printf 'nameserver %s\nsearch svc.cluster.local cluster.local\noptions ndots:5\n' "$POD_GATEWAY" \
    >"$(NODE_DIR)/cluster-resolv.conf"
  node_pki
  node_network
  start_containerd
  import_images
  start_kubelet
  start_kube_proxy
  start_coredns
  start_provisioner
  log "node: $NODE_NAME Ready (pods on $POD_SUBNET, DNS at $POD_GATEWAY)"
}

node_down() {
  local name
  for name in local-provisioner coredns kube-proxy kubelet; do
    stop_daemon "$name"
  done
  # Containers outlive containerd (their shims keep them): end them through runc first.
  if [[ -d $(RUNC_ROOT) ]]; then
    local ns id
    for ns in "$(RUNC_ROOT)"/*/; do
      [[ -d $ns ]] || continue
      for id in $(runc --root "$ns" list -q 2>/dev/null); do
        runc --root "$ns" delete --force "$id" >/dev/null 2>&1 || true
      done
    done
  fi
  stop_daemon containerd
  pkill -KILL -f "containerd-shim-runc-v2 .*$(NODE_DIR)" 2>/dev/null || true
  # Mounts under the node's directories (volumes, overlays, sandboxes' shm), deepest first.
  local mounts
  mounts=$(awk -v dir="$(NODE_DIR)/" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r)
  for name in $mounts; do umount -l "$name" 2>/dev/null || true; done
  if [[ -x $(NODE_BIN kube-proxy) ]]; then
    "$(NODE_BIN kube-proxy)" --cleanup >/dev/null 2>&1 || true
  fi
  iptables -D FORWARD -i "$POD_BRIDGE" ! -o "$POD_BRIDGE" -j DROP 2>/dev/null || true
  iptables -D FORWARD -o "$POD_BRIDGE" ! -i "$POD_BRIDGE" -j DROP 2>/dev/null || true
  ip link delete "$POD_BRIDGE" 2>/dev/null || true
  if [[ -f $(NODE_DIR)/ip_forward.before ]]; then
    sysctl -qw net.ipv4.ip_forward="$(cat "$(NODE_DIR)/ip_forward.before")"
  fi
  if [[ -s $(NODE_DIR)/bridge_nf.before ]]; then
    sysctl -qw net.bridge.bridge-nf-call-iptables="$(cat "$(NODE_DIR)/bridge_nf.before")" 2>/dev/null || true
  fi
  # The pods' cgroups, empty once their containers are gone.
  find /sys/fs/cgroup/*/kubepods* -depth -type d -exec rmdir {} + 2>/dev/null || true
  rm -rf "$(NODE_DIR)"
}

node_status() {
  local ok=0
  report containerd ctr_node version || ok=1
  report "kubelet ($NODE_NAME Ready)" node_ready || ok=1
  report kube-proxy curl -fsS "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz" || ok=1
  report coredns coredns_healthy || ok=1
  report local-provisioner daemon_running local-provisioner || ok=1
  return $ok
}
