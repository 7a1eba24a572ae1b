#!/usr/bin/env bash
# The hikube-local provisioner of the real node (scripts/lib/node.sh): every second, a `local`
# volume for each pending claim of the class, in a directory of its own owned by root as a new
# cloud disk's file system is (fsGroup gives it to the pod); and the directory of each volume
# its claim released removed with the volume. Volumes cannot grow: the class says so.
#
#   provisioner.sh STATE_DIR
set -u
state=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=/dev/null
source "$here/common.sh"
kubectl=("$CACHE_DIR/kubernetes-$K8S_VERSION/bin/kubectl" --kubeconfig "$state/kubeconfig")
volumes=$state/node/volumes

provision() {
  local namespace=$1 claim=$2 uid=$3 size=$4 modes=$5
  local pv=pvc-$uid
  # The directory first: a volume must never exist without it.
  mkdir -p "$volumes/$pv"
  "${kubectl[@]}" create -f - <<YAML || return 0
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  annotations: {pv.kubernetes.io/provisioned-by: hikube.dev/local}
spec:
  capacity: {storage: $size}
  accessModes: [${modes//,/, }]
  volumeMode: Filesystem
  persistentVolumeReclaimPolicy: Delete
  storageClassName: hikube-local
  claimRef: {namespace: $namespace, name: $claim, uid: $uid}
  local: {path: $volumes/$pv}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}
YAML
}

while sleep 1; do
  "${kubectl[@]}" get pvc -A -o jsonpath='{range .items[?(@.spec.storageClassName=="hikube-local")]}{.metadata.namespace} {.metadata.name} {.metadata.uid} {.status.phase} {.spec.resources.requests.storage} {.spec.accessModes[*]}{"\n"}{end}' 2>/dev/null |
    while read -r namespace claim uid phase size modes; do
      [[ $phase == Pending ]] || continue
      provision "$namespace" "$claim" "$uid" "$size" "${modes// /,}"
    done
  "${kubectl[@]}" get pv -o jsonpath='{range .items[?(@.spec.storageClassName=="hikube-local")]}{.metadata.name} {.status.phase}{"\n"}{end}' 2>/dev/null |
    while read -r pv phase; do
      [[ $phase == Released || $phase == Failed ]] || continue
      "${kubectl[@]}" delete pv "$pv" --wait=false && rm -rf "${volumes:?}/$pv"
    done
done
