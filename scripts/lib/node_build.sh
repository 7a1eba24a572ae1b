# Builds (or finds in the cache) what the real node runs: Debian's containerd, runc, CNI plugins
# and iptables; kubelet and kube-proxy from the control plane's wrapper module; CoreDNS; and the
# images of its pods (scripts/lib/images.sh).

# Debian's packages, installed when missing; `apt-get update` first, since a new machine's
# package lists may be empty or old.
install_node_packages() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  ((${#missing[@]} == 0)) && return 0
  log "node: installing ${missing[*]} from Debian"
  local logfile=$CACHE_DIR/logs/apt.log
  run_logged apt "$logfile" env DEBIAN_FRONTEND=noninteractive apt-get update
  run_logged apt "$logfile" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# kubelet and kube-proxy from a copy of the control plane's wrapper module, so that both sides
# are the same Kubernetes; the copy gains the few packages only the node needs.
build_node_binaries() {
  local dir=$CACHE_DIR/kubernetes-node-$K8S_VERSION
  cached "$dir" && return 0
  log "kubernetes $K8S_VERSION: building kubelet and kube-proxy (cold: about 4 min on 2 cores)"
  local logfile=$CACHE_DIR/logs/kubernetes-node-$K8S_VERSION.log
  rm -rf "$dir" && mkdir -p "$dir/src" "$dir/bin"
  cp "$CACHE_DIR/kubernetes-$K8S_VERSION/src/go.mod" "$dir/src/"
  [[ -f $CACHE_DIR/kubernetes-$K8S_VERSION/src/go.sum ]] && cp "$CACHE_DIR/kubernetes-$K8S_VERSION/src/go.sum" "$dir/src/"
  sed -i "s#^module .*#module hikube.local/stack/kubernetes-node#" "$dir/src/go.mod"
  (
    cd "$dir/src"
    run_logged kubernetes-node "$logfile" go_env go get "k8s.io/kubernetes/cmd/kubelet@$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-proxy@$K8S_VERSION"
    run_logged kubernetes-node "$logfile" go_env go build -trimpath -ldflags "$(k8s_ldflags)" -o "$dir/bin/" \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
  )
  touch "$dir/.complete"
}

build_coredns() {
  local dir=$CACHE_DIR/coredns-$COREDNS_VERSION
  cached "$dir" && return 0
  log "coredns $COREDNS_VERSION: building (cold: about 3 min on 2 cores)"
  local logfile=$CACHE_DIR/logs/coredns-$COREDNS_VERSION.log
  rm -rf "$dir" && mkdir -p "$dir/bin"
  run_logged coredns "$logfile" env GOBIN="$dir/bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    github.com/coredns/coredns@"$COREDNS_VERSION"
  touch "$dir/.complete"
}

build_node() {
  install_node_packages
  build_node_binaries
  build_coredns
  build_images
}
