#!/usr/bin/env bash
# Builds the release and packaging tools the suite runs (not parts of a cluster), from pinned Go modules, into
# the same version-keyed cache as build-binaries.sh:
#   helm-<ver>/helm                  tools/helm        helm lint/template/install/upgrade/uninstall of charts/
#   actionlint-<ver>/actionlint      tools/actionlint  lints .github/workflows/
#   Debian's shellcheck, in shellcheck-<ver>/usr/bin/ (apt-get download + dpkg-deb -x): actionlint runs it on
#                                    every workflow's run: scripts
#   kubectl-<ver>/kubectl            tools/kubectl-oldest  the oldest kubectl the README supports: its kustomize
#                                    must render every flavour of manifests/ (test/e2e/kustomize-clients.test.ts)
# Cold: about 2 CPU-minutes for helm, under 1 for actionlint, about 5 for the older kubectl (it shares no build
# cache with tools/k8s: another release). Warm: seconds.
#
# Usage: build-tools.sh           build what is missing, then print the paths
#        build-tools.sh --paths   only print the paths
# stdout carries only "name=<path>" lines (read by test/e2e/harness/tools.ts); progress goes to stderr.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# shellcheck source=build-lib.sh
source "$repo/test/e2e/harness/build-lib.sh"

helm_ver="$(modver helm helm.sh/helm/v4)"
actionlint_ver="$(modver actionlint github.com/rhysd/actionlint)"
kubectl_ver="$(modver kubectl-oldest k8s.io/kubernetes)"
for v in helm_ver actionlint_ver kubectl_ver; do
  [[ -n "${!v}" ]] || { log "cannot read the pinned ${v%_ver} version from tools/*/go.mod"; exit 1; }
done
helm="$cache/helm-$helm_ver/helm"
actionlint="$cache/actionlint-$actionlint_ver/actionlint"
kubectl="$cache/kubectl-$kubectl_ver/kubectl"
# Debian bookworm's; bump together with the machine's Debian release.
shellcheck_deb_ver="0.9.0-1"
shellcheck="$cache/shellcheck-$shellcheck_deb_ver/usr/bin/shellcheck"

print_paths() { echo "helm=$helm"; echo "actionlint=$actionlint"; echo "kubectl-oldest=$kubectl"; echo "shellcheck=$shellcheck"; }
if [[ "${1:-}" == "--paths" ]]; then print_paths; exit 0; fi

total=$SECONDS
# The version its release Makefile stamps; unstamped, `helm version` says v4.x-unreleased and charts'
# kubeVersion checks see the client's default.
build helm "$helm" helm helm.sh/helm/v4/cmd/helm \
  "-X helm.sh/helm/v4/internal/version.version=$helm_ver -X helm.sh/helm/v4/internal/version.metadata= -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  version --short
build actionlint "$actionlint" actionlint github.com/rhysd/actionlint/cmd/actionlint \
  "-X github.com/rhysd/actionlint.version=$actionlint_ver" -version
build kubectl-oldest "$kubectl" kubectl-oldest k8s.io/kubernetes/cmd/kubectl "$(k8s_version_ldflags "$kubectl_ver")" version --client
if ! "$shellcheck" --version >/dev/null 2>&1; then
  dir="$cache/shellcheck-$shellcheck_deb_ver"
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.shellcheck.XXXXXX")"
  tmpfiles+=("$tmp")
  debian_extract shellcheck "$shellcheck_deb_ver" "$tmp"
  "$tmp/usr/bin/shellcheck" --version >/dev/null
  rm -rf "$dir"
  mv "$tmp" "$dir"
  log "shellcheck: extracted Debian's $shellcheck_deb_ver"
else
  log "shellcheck: cached at $shellcheck"
fi
log "done in $((SECONDS - total))s (helm $helm_ver, actionlint $actionlint_ver, kubectl $kubectl_ver)"
print_paths
