{{/* Labels every object carries: the name label manifests/ uses (selectors match only it), plus Helm's. */}}
{{- define "sandbox-admission.labels" -}}
app.kubernetes.io/name: sandbox-admission
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{/* The policy text: values.policy, or the example policy the chart bundles. */}}
{{- define "sandbox-admission.policyText" -}}
{{- .Values.policy | default (.Files.Get "files/policy.yaml") -}}
{{- end -}}

{{/* The policy as an object, refusing text that is not a YAML mapping. */}}
{{- define "sandbox-admission.policyObject" -}}
{{- $p := fromYaml (include "sandbox-admission.policyText" .) -}}
{{- if or (hasKey $p "Error") (not (hasKey $p "spec")) -}}
{{- fail (printf "policy: not a SandboxPolicy (a YAML mapping with spec): %v" (get $p "Error" | default "no spec")) -}}
{{- end -}}
{{- toJson $p -}}
{{- end -}}

{{/*
The namespaces every pod webhook skips, as JSON: the policy's spec.exemptNamespaces (or the webhook's defaults,
src/policy/defaults.ts) and the release namespace, the same list the webhook and the generated admission policies
decide from.
*/}}
{{- define "sandbox-admission.exemptNamespaces" -}}
{{- $p := include "sandbox-admission.policyObject" . | fromJson -}}
{{- $listed := dig "spec" "exemptNamespaces" (list "kube-system" "kube-public" "kube-node-lease") $p -}}
{{- toJson (append $listed .Release.Namespace | uniq) -}}
{{- end -}}

{{- define "sandbox-admission.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "sandbox-admission.exemptNamespaces" . }}
{{- end -}}

{{/* failurePolicy of the two pod webhooks: Ignore only where the ValidatingAdmissionPolicies stand in. */}}
{{- define "sandbox-admission.podFailurePolicy" -}}
{{- $vap := .Values.validatingAdmissionPolicy.enabled -}}
{{- $fp := .Values.podWebhooks.failurePolicy | default (ternary "Ignore" "Fail" $vap) -}}
{{- if not (has $fp (list "Ignore" "Fail")) -}}
{{- fail (printf "podWebhooks.failurePolicy: %q is neither Ignore nor Fail" $fp) -}}
{{- end -}}
{{- if and (eq $fp "Ignore") (not $vap) -}}
{{- fail "podWebhooks.failurePolicy: Ignore needs validatingAdmissionPolicy.enabled=true: without the ValidatingAdmissionPolicies a webhook outage would admit governed pods onto runc" -}}
{{- end -}}
{{- $fp -}}
{{- end -}}

{{/*
A generated admission policy (render vap / render map): values' text, or the file generated from the example policy,
which is only right for that policy in the namespace it was rendered for. Args: root context, values key, file, command.
*/}}
{{- define "sandbox-admission.generated" -}}
{{- $root := index . 0 -}}
{{- $given := index . 1 -}}
{{- $file := index . 2 -}}
{{- $command := index . 3 -}}
{{- $key := index . 4 -}}
{{- $policyName := (include "sandbox-admission.policyObject" $root | fromJson).metadata.name -}}
{{- if not $given -}}
{{- if and $root.Values.policy (ne $root.Values.policy ($root.Files.Get "files/policy.yaml")) -}}
{{- fail (printf "%s: the policy is not the chart's example, so its admission policies must be generated from it: npx sandbox-admission %s --policy my-policy.yaml --webhook-namespace %s > generated.yaml, then --set-file %s=generated.yaml" $key $command $root.Release.Namespace $key) -}}
{{- end -}}
{{- if ne $root.Release.Namespace "sandbox-admission" -}}
{{- fail (printf "%s: files/ was generated for the namespace sandbox-admission; for %s run npx sandbox-admission %s --policy <policy> --webhook-namespace %s and pass it with --set-file %s=..." $key $root.Release.Namespace $command $root.Release.Namespace $key) -}}
{{- end -}}
{{- end -}}
{{- $text := $given | default ($root.Files.Get $file) -}}
{{- range $doc := regexSplit "(?m)^---[ \t]*$" $text -1 -}}
{{- $o := fromYaml $doc -}}
{{- if and $o (not (hasKey $o "Error")) -}}
{{- $from := dig "metadata" "annotations" "sandbox-admission.io/policy" "" $o -}}
{{- if ne $from $policyName -}}
{{- fail (printf "%s: %s/%s was generated from policy %q, not from the policy in force %q; render it again (npx sandbox-admission %s)" $key $o.kind $o.metadata.name $from $policyName $command) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $text -}}
{{- end -}}

{{- define "sandbox-admission.clientConfig" -}}
admissionReviewVersions: ["v1", "v1beta1"]
clientConfig:
  service:
    name: sandbox-admission
    namespace: {{ .Release.Namespace }}
    path: {{ .path }}
    port: 443
{{- end -}}

{{/* Metadata of both webhook configurations; with cert-manager, its cainjector fills in caBundle. */}}
{{- define "sandbox-admission.webhookMetadata" -}}
metadata:
  name: sandbox-admission
  labels:
    {{- include "sandbox-admission.labels" . | nindent 4 }}
  {{- if eq .Values.certificates.mode "cert-manager" }}
  annotations:
    cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/sandbox-admission-serving
  {{- end }}
{{- end -}}


{{/* The kinds of generated admission policies the leader keeps in line (--manage-admission-policies), as JSON. */}}
{{- define "sandbox-admission.managedKinds" -}}
{{- $kinds := list -}}
{{- if and .Values.validatingAdmissionPolicy.enabled .Values.validatingAdmissionPolicy.managed -}}
{{- $kinds = append $kinds "validating" -}}
{{- end -}}
{{- if and .Values.mutatingAdmissionPolicy.enabled .Values.mutatingAdmissionPolicy.managed -}}
{{- $kinds = append $kinds "mutating" -}}
{{- end -}}
{{- toJson $kinds -}}
{{- end -}}
