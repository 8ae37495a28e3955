#!/usr/bin/env bash
# Re-pins this tools module to the oldest kubectl the README supports: bash pin.sh v1.34.4
# Only kubectl: its embedded kustomize is what an older client renders manifests/ with (test/e2e/kustomize-clients.test.ts).
# ../k8s/pin.sh generates it, with the staging-module replaces read from that release's own go.mod.
set -euo pipefail
exec bash "$(dirname "$0")/../k8s/pin.sh" "${1:?usage: pin.sh v1.MINOR.PATCH}" "$(cd "$(dirname "$0")" && pwd)" kubectl
