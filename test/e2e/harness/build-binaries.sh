#!/usr/bin/env bash
# Builds the real kube-apiserver, kubectl and etcd the e2e suite runs, from the
# pinned Go tools modules (tools/k8s, tools/etcd), into a cache outside the repository:
#   ${SANDBOX_ADMISSION_CACHE:-$HOME/.cache/sandbox-admission}/k8s-<ver>/kube-apiserver
#   ${SANDBOX_ADMISSION_CACHE:-$HOME/.cache/sandbox-admission}/k8s-<ver>/kubectl
#   ${SANDBOX_ADMISSION_CACHE:-$HOME/.cache/sandbox-admission}/etcd-<ver>/etcd
# A cached binary that still runs (its version command) is reused; a cold build takes
# minutes, which is why the cache lives outside the (freshly cloned) work tree.
#
# Usage: build-binaries.sh           build what is missing, then print the paths
#        build-binaries.sh --paths   only print the paths (no build, no checks)
# stdout carries only "kube-apiserver=<path>", "kubectl=<path>" and "etcd=<path>"
# lines (read by binaries.ts); progress and timings go to stderr.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# shellcheck source=build-lib.sh
source "$repo/test/e2e/harness/build-lib.sh"

k8s_ver="$(modver k8s k8s.io/kubernetes)"
etcd_ver="$(modver etcd go.etcd.io/etcd/server/v3)"
[[ -n "$k8s_ver" && -n "$etcd_ver" ]] || { log "cannot read pinned versions from tools/*/go.mod"; exit 1; }
apiserver="$cache/k8s-$k8s_ver/kube-apiserver"
kubectl="$cache/k8s-$k8s_ver/kubectl"
etcd="$cache/etcd-$etcd_ver/etcd"

print_paths() { echo "kube-apiserver=$apiserver"; echo "kubectl=$kubectl"; echo "etcd=$etcd"; }
if [[ "${1:-}" == "--paths" ]]; then print_paths; exit 0; fi

k8s_ldflags="$(k8s_version_ldflags "$k8s_ver")"

total=$SECONDS
build etcd "$etcd" etcd go.etcd.io/etcd/server/v3 ""
build kube-apiserver "$apiserver" k8s k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
# kubectl has no --version flag; `version --client` never contacts a server.
build kubectl "$kubectl" k8s k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags" version --client
log "done in $((SECONDS - total))s (kube-apiserver and kubectl $k8s_ver, etcd $etcd_ver)"
print_paths
