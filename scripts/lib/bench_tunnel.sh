# `scripts/bench tunnel`: topics through the Kubernetes API server against a direct connection,
# on a cluster running on the real node. Sourced by scripts/bench, whose helpers (tf_timed,
# tf_untimed, result_median, ratio, build_hikube) it uses.

# The same topics through the API server and directly, on a cluster of 3 brokers running on the
# real node: the direct variant runs Terraform with the cluster's DNS (as Terraform inside the
# cluster network would), the tunnel variant without it. Both sign in with the admin Secret.
bench_tunnel() {
  local n=${1:-1000} reps=${2:-2}
  build_hikube
  run_dir=$STATE_DIR/bench/tunnel-$(date +%Y%m%d-%H%M%S)
  mkdir -p "$run_dir/bin"
  RESULTS=$run_dir/results.tsv
  : >"$RESULTS"
  cp "$root/target/release/terraform-provider-hikube" "$run_dir/bin/"
  cat >"$run_dir/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "hikube/hikube" = "$run_dir/bin"
  }
  direct {}
}
RC
  export TF_CLI_CONFIG_FILE=$run_dir/terraformrc CHECKPOINT_DISABLE=1
  local ns=bench-tunnel-$$
  "$root/scripts/stack" real-namespace "$ns"
  trap '"$TF_CLI" -chdir="$run_dir/cluster" destroy -auto-approve -no-color >"$run_dir/cluster/teardown.log" 2>&1; kubectl delete namespace "'"$ns"'" --wait=false >/dev/null 2>&1' EXIT
  mkdir -p "$run_dir/cluster"
  cat >"$run_dir/cluster/main.tf" <<TF
terraform {
  required_providers {
    hikube = { source = "hikube/hikube" }
  }
}
provider "hikube" {
  namespace = "$ns"
}
resource "hikube_zookeeper_ensemble" "zk" {
  name           = "bench"
  replicas       = 1
  storage_class  = "hikube-local"
  storage_size   = "1Gi"
  resources      = { cpu = "150m", memory = "256Mi" }
  delete_volumes = true
}
resource "hikube_kafka_cluster" "kafka" {
  name                = "bench"
  replicas            = 3
  zookeeper           = hikube_zookeeper_ensemble.zk.connect_string
  storage_class       = "hikube-local"
  storage_size        = "2Gi"
  resources           = { cpu = "300m", memory = "1Gi" }
  deletion_protection = false
  delete_volumes      = true
}
TF
  log "bench: deploying 1 ZooKeeper member and 3 brokers on the real node in $ns (not timed)"
  tf_untimed "$run_dir/cluster" apply -auto-approve
  local variant rep
  for variant in direct tunnel; do
    mkdir -p "$run_dir/$variant"
    local tunnel=""
    [[ $variant == tunnel ]] && tunnel="tunnel = {}"
    cat >"$run_dir/$variant/main.tf" <<TF
terraform {
  required_providers {
    hikube = { source = "hikube/hikube" }
  }
}
provider "hikube" {
  namespace = "$ns"
  kafka = {
    bootstrap_servers = ["bench-kafka-bootstrap.$ns.svc.cluster.local:9092"]
    sasl              = { credentials_secret = "bench-kafka-admin" }
    $tunnel
  }
}
resource "hikube_kafka_topic" "t" {
  count              = $n
  name               = format("$variant-%05d", count.index)
  partitions         = 1
  replication_factor = 1
}
TF
  done
  # The first topics of a fresh cluster take about twice as long (measured: 104 s against 45 s for
  # the same apply): one untimed round, so that neither variant pays that.
  log "bench: warming the cluster up with $n topics (not timed)"
  TF_PREFIX=("$root/scripts/stack" cluster-dns)
  tf_untimed "$run_dir/direct" apply -auto-approve
  tf_untimed "$run_dir/direct" destroy -auto-approve
  TF_PREFIX=()
  log "bench: tunnel against direct, N=$n, $reps repetitions, -parallelism=$PARALLELISM; results in $run_dir"
  local order
  for rep in $(seq 1 "$reps"); do
    # Alternated, so that neither variant always runs on the cluster the other has just worked.
    order="direct tunnel"
    ((rep % 2 == 0)) && order="tunnel direct"
    for variant in $order; do
      TF_PREFIX=()
      [[ $variant == direct ]] && TF_PREFIX=("$root/scripts/stack" cluster-dns)
      tf_timed "$variant $n apply" "$run_dir/$variant" apply -auto-approve
      tf_timed "$variant $n plan" "$run_dir/$variant" plan
      tf_timed "$variant $n destroy" "$run_dir/$variant" destroy -auto-approve
    done
    TF_PREFIX=()
  done
  echo
  echo "| N | operation | direct (s) | tunnel (s) | tunnel ÷ direct |"
  echo "|---:|---|---:|---:|---:|"
  local op d t
  for op in apply plan destroy; do
    d=$(result_median "direct $n $op")
    t=$(result_median "tunnel $n $op")
    echo "| $n | $op | $d | $t | $(ratio "$t" "$d") |"
  done
}

