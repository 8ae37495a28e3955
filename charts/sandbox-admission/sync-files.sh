#!/usr/bin/env bash
# Copies into the chart what it bundles from manifests/ (a chart cannot read outside its own directory): the
# SandboxPolicy CRD (into crds/, which Helm installs before the templates and never upgrades or deletes), the
# example policy, the admission policies generated from it (the native flavour's ValidatingAdmissionPolicies are
# rendered --after-map), and the files of manifests/components/monitoring (monitoring.enabled renders
# files/monitoring/*.yaml and the dashboard ConfigMap from files/monitoring/dashboards/).
# test/unit/charts/chart-files.test.ts fails until the chart agrees with manifests/.
set -euo pipefail
cd "$(dirname "$0")"
m=../../manifests
mkdir -p crds files
cp "$m/base/crd.yaml" crds/sandboxpolicy-crd.yaml
cp "$m/base/policy.yaml" files/policy.yaml
cp "$m/admission-policy/validating-admission-policy.yaml" files/validating-admission-policy.yaml
cp "$m/overlays/native/validating-admission-policy.yaml" files/validating-admission-policy-after-map.yaml
cp "$m/overlays/native/mutating-admission-policy.yaml" files/mutating-admission-policy.yaml
rm -rf files/monitoring
# The component's `resources:` and configMapGenerator `files:` lists (one "  - path" / "      - path" a line, as
# every kustomization here is written).
awk '/^resources:/ {r = 1; next} r && /^  - / {print $2; next} r && !/^ / {r = 0}
     /^ +files:/ {f = 1; next} f && /^ +- / {print $2; next} f {f = 0}' "$m/components/monitoring/kustomization.yaml" |
  while read -r file; do
    mkdir -p "files/monitoring/$(dirname "$file")"
    cp "$m/components/monitoring/$file" "files/monitoring/$file"
  done
