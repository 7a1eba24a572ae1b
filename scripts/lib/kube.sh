# The Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# and kwok standing in for three kubelets.

K8S_BIN() { echo "$CACHE_DIR/kubernetes-$K8S_VERSION/bin/$1"; }
KUBECONFIG_FILE() { echo "$STATE_DIR/kubeconfig"; }

kubectl_stack() { "$(K8S_BIN kubectl)" --kubeconfig "$(KUBECONFIG_FILE)" "$@"; }

etcd_healthy() { curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }

apiserver_ready() {
  curl -fsS --cacert "$CERT_DIR/kube-ca.crt" --cert "$CERT_DIR/admin.crt" --key "$CERT_DIR/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -qx ok
}

# The controller-manager and scheduler serve /healthz unauthenticated on their secure port.
component_healthy() { curl -fsSk "https://127.0.0.1:$1/healthz" | grep -qx ok; }

nodes_ready() {
  local ready
  ready=$(kubectl_stack get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$')
  [[ $ready -eq ${#KWOK_NODES[@]} ]]
}

start_etcd() {
  mkdir -p "$STATE_DIR/etcd"
  # Test data only: skipping fsync keeps the apiserver quick on a shared disk.
  start_daemon etcd "$CACHE_DIR/etcd-$ETCD_VERSION/bin/etcd" --name hikube-stack \
    --data-dir "$STATE_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "hikube-stack=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls "" --unsafe-no-fsync --quota-backend-bytes 4294967296
  wait_for etcd 30 etcd_healthy || die "etcd: not healthy after 30s (log: $LOG_DIR/etcd.log)"
}

start_apiserver() {
  start_daemon kube-apiserver "$(K8S_BIN kube-apiserver)" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$CERT_DIR/apiserver.crt" --tls-private-key-file "$CERT_DIR/apiserver.key" \
    --client-ca-file "$CERT_DIR/kube-ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$CERT_DIR/service-accounts.pub" \
    --service-account-signing-key-file "$CERT_DIR/service-accounts.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode Node,RBAC --allow-privileged=true \
    --kubelet-preferred-address-types InternalIP --kubelet-certificate-authority "$CERT_DIR/kube-ca.crt" \
    --kubelet-client-certificate "$CERT_DIR/admin.crt" --kubelet-client-key "$CERT_DIR/admin.key" \
    --enable-admission-plugins PodNodeSelector,PodTolerationRestriction \
    --profiling=false --event-ttl 30m
  wait_for kube-apiserver 120 apiserver_ready || {
    tail -n 20 "$LOG_DIR/kube-apiserver.log" >&2
    die "kube-apiserver: not ready after 120s (log: $LOG_DIR/kube-apiserver.log)"
  }
}

start_controllers() {
  start_daemon kube-controller-manager "$(K8S_BIN kube-controller-manager)" \
    --kubeconfig "$STATE_DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE_DIR/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" \
    --service-account-private-key-file "$CERT_DIR/service-accounts.key" \
    --root-ca-file "$CERT_DIR/kube-ca.crt" --use-service-account-credentials \
    --leader-elect=false --profiling=false
  start_daemon kube-scheduler "$(K8S_BIN kube-scheduler)" \
    --kubeconfig "$STATE_DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE_DIR/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false --profiling=false
  start_daemon kwok "$CACHE_DIR/kwok-$KWOK_VERSION/bin/kwok" \
    --kubeconfig "$(KUBECONFIG_FILE)" --config "$CACHE_DIR/kwok-$KWOK_VERSION/stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --server-address "127.0.0.1:$KWOK_PORT"
  wait_for kube-controller-manager 60 component_healthy "$CONTROLLER_MANAGER_PORT" ||
    die "kube-controller-manager: not healthy after 60s (log: $LOG_DIR/kube-controller-manager.log)"
  wait_for kube-scheduler 60 component_healthy "$SCHEDULER_PORT" ||
    die "kube-scheduler: not healthy after 60s (log: $LOG_DIR/kube-scheduler.log)"
  require_daemon kwok
}

# Three fake nodes, one per zone, large enough for the biggest Hikube preset several times over.
register_nodes() {
  local i manifest=""
  for i in "${!KWOK_NODES[@]}"; do
    manifest+="---
apiVersion: v1
kind: Node
metadata:
  name: ${KWOK_NODES[$i]}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
  labels:
    kubernetes.io/hostname: ${KWOK_NODES[$i]}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/agent: \"\"
    topology.kubernetes.io/zone: zone-$i
    type: kwok
status:
  capacity: {cpu: \"32\", memory: 128Gi, pods: \"110\", ephemeral-storage: 1Ti}
  allocatable: {cpu: \"32\", memory: 128Gi, pods: \"110\", ephemeral-storage: 1Ti}
"
  done
  run_logged kubernetes "$LOG_DIR/setup.log" kubectl_stack apply -f - <<<"$manifest"
  run_logged kubernetes "$LOG_DIR/setup.log" kubectl_stack apply -f "$CACHE_DIR/kwok-$KWOK_VERSION/storage-class.yaml"
  # Volumes of Kafka and ZooKeeper grow in place, as on a cloud storage class.
  run_logged kubernetes "$LOG_DIR/setup.log" kubectl_stack patch storageclass kwok-volume --type merge -p '{"allowVolumeExpansion":true}'
  wait_for nodes 60 nodes_ready || die "kwok: nodes not Ready after 60s (log: $LOG_DIR/kwok.log)"
}

kube_up() {
  log "kubernetes: starting etcd"
  start_etcd
  log "kubernetes: starting kube-apiserver on 127.0.0.1:$APISERVER_PORT"
  start_apiserver
  log "kubernetes: starting kube-controller-manager, kube-scheduler and kwok"
  start_controllers
  register_nodes
  log "kubernetes: ready with ${#KWOK_NODES[@]} kwok nodes (KUBECONFIG=$(KUBECONFIG_FILE))"
}

kube_down() {
  local name
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    stop_daemon "$name"
  done
}

kube_status() {
  local ok=0
  report etcd etcd_healthy || ok=1
  report kube-apiserver apiserver_ready || ok=1
  report kube-controller-manager component_healthy "$CONTROLLER_MANAGER_PORT" || ok=1
  report kube-scheduler component_healthy "$SCHEDULER_PORT" || ok=1
  report "kwok (${#KWOK_NODES[@]} nodes Ready)" nodes_ready || ok=1
  return $ok
}
