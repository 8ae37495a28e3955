#!/usr/bin/env bash
# Builds promtool (Prometheus' rule checker and rule unit-test runner) from its pinned Go module
# (tools/promtool), into the version-keyed cache the other builds use:
#   ${SANDBOX_ADMISSION_CACHE:-$HOME/.cache/sandbox-admission}/promtool-<ver>/promtool
# Used by test/e2e/monitoring.test.ts: `promtool check rules` and `promtool test rules` on
# manifests/components/monitoring/prometheus-rule.yaml.
#
# Usage: build-promtool.sh           build when missing, then print the path
#        build-promtool.sh --paths   only print the path (no build, no checks)
# stdout carries only "promtool=<path>"; progress and timings go to stderr.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# shellcheck source=build-lib.sh
source "$repo/test/e2e/harness/build-lib.sh"

ver="$(modver promtool github.com/prometheus/prometheus)"
[[ -n "$ver" ]] || { log "cannot read the pinned github.com/prometheus/prometheus version from tools/promtool/go.mod"; exit 1; }
promtool="$cache/promtool-$ver/promtool"

if [[ "${1:-}" == "--paths" ]]; then echo "promtool=$promtool"; exit 0; fi

# The module's v0.3MM.P tags are Prometheus 3.MM.P: stamp that, as Prometheus' own release build does.
minor="${ver#v0.3}"; minor="${minor%%.*}"; patch="${ver##*.}"
release="3.$((10#$minor)).$patch"
# remove_all_sd: leave out the service-discovery plugins (AWS, Azure, GCE, ... SDKs), which only `promtool check
# config` of SD sections needs; rule checks and rule unit tests do not, and the build is much smaller without them.
TAGS=remove_all_sd build promtool "$promtool" promtool github.com/prometheus/prometheus/cmd/promtool \
  "-X github.com/prometheus/common/version.Version=$release -X github.com/prometheus/common/version.Branch=HEAD"
echo "promtool=$promtool"
