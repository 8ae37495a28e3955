#!/usr/bin/env bash
# Copies into files/ what the chart bundles from manifests/ (a chart cannot read outside its own directory): the
# example policy, the admission policies generated from it, and the resources of manifests/components/monitoring
# once that component exists (monitoring.enabled renders every file of files/monitoring/).
# test/unit/charts/chart-files.test.ts fails until files/ agrees with manifests/.
set -euo pipefail
cd "$(dirname "$0")"
m=../../manifests
cp "$m/base/policy.yaml" files/policy.yaml
cp "$m/admission-policy/validating-admission-policy.yaml" files/validating-admission-policy.yaml
cp "$m/overlays/native/mutating-admission-policy.yaml" files/mutating-admission-policy.yaml
if [[ -f "$m/components/monitoring/kustomization.yaml" ]]; then
  rm -rf files/monitoring
  # The component's `resources:` list (one "  - path" a line, as every kustomization here is written).
  awk '/^resources:/ {r = 1; next} r && /^  - / {print $2; next} r && !/^ / {r = 0}' "$m/components/monitoring/kustomization.yaml" |
    while read -r resource; do
      mkdir -p "files/monitoring/$(dirname "$resource")"
      cp "$m/components/monitoring/$resource" "files/monitoring/$resource"
    done
fi
