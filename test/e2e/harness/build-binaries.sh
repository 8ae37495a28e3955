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
cache="${SANDBOX_ADMISSION_CACHE:-$HOME/.cache/sandbox-admission}"
export PATH="$PATH:/usr/local/go/bin"

# Versions come from the tools modules' go.mod, the single place they are pinned.
modver() { awk -v m="$2" '$1==m{print $2; exit}' "$repo/tools/$1/go.mod"; }
k8s_ver="$(modver k8s k8s.io/kubernetes)"
etcd_ver="$(modver etcd go.etcd.io/etcd/server/v3)"
[[ -n "$k8s_ver" && -n "$etcd_ver" ]] || { echo "build-binaries: cannot read pinned versions from tools/*/go.mod" >&2; exit 1; }
apiserver="$cache/k8s-$k8s_ver/kube-apiserver"
kubectl="$cache/k8s-$k8s_ver/kubectl"
etcd="$cache/etcd-$etcd_ver/etcd"

print_paths() { echo "kube-apiserver=$apiserver"; echo "kubectl=$kubectl"; echo "etcd=$etcd"; }
if [[ "${1:-}" == "--paths" ]]; then print_paths; exit 0; fi

log() { echo "build-binaries: $*" >&2; }

# Half-written temp binaries are removed however the script ends.
tmpfiles=()
trap 'rm -f "${tmpfiles[@]}"' EXIT

# build NAME OUT MODULE_DIR PACKAGE EXTRA_LDFLAGS [VERSION_ARGS...]
# VERSION_ARGS: how the binary reports its version (default --version); it must
# succeed for a cached or freshly built binary to be accepted.
build() {
  local name="$1" out="$2" moddir="$3" pkg="$4" extra="$5"
  shift 5
  local verargs=("$@")
  [[ ${#verargs[@]} -gt 0 ]] || verargs=(--version)
  if [[ -x "$out" ]] && "$out" "${verargs[@]}" >/dev/null 2>&1; then
    log "$name: cached at $out"
    return 0
  fi
  command -v go >/dev/null || { log "$name: 'go' not found (expected at /usr/local/go/bin); cannot build"; return 1; }
  mkdir -p "$(dirname "$out")"
  # Build to a temp file in the same directory and rename: a concurrent or
  # interrupted build never leaves a half-written binary at the cached path.
  local tmp
  tmp="$(mktemp "$(dirname "$out")/.$name.XXXXXX")"
  tmpfiles+=("$tmp")
  log "$name: building $pkg ($(go version | awk '{print $3}')) -> $out"
  local start=$SECONDS
  # GOTOOLCHAIN=local: build with the installed Go, never fetch another one.
  (cd "$repo/tools/$moddir" &&
    CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w $extra" -o "$tmp" "$pkg")
  "$tmp" "${verargs[@]}" >/dev/null
  mv -f "$tmp" "$out"
  log "$name: built in $((SECONDS - start))s"
}

# Stamp the release version the way Kubernetes' own build does (hack/lib/version.sh);
# unstamped it reports v0.0.0-master in /version and --version.
minor="${k8s_ver#v1.}"; minor="${minor%%.*}"
k8s_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $p.gitVersion=$k8s_ver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done

total=$SECONDS
build etcd "$etcd" etcd go.etcd.io/etcd/server/v3 ""
build kube-apiserver "$apiserver" k8s k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
# kubectl has no --version flag; `version --client` never contacts a server.
build kubectl "$kubectl" k8s k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags" version --client
log "done in $((SECONDS - total))s (kube-apiserver and kubectl $k8s_ver, etcd $etcd_ver)"
print_paths
