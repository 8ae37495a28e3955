import { POD_FEATURES } from './types.ts';

/**
 * JSON Schema (draft 2020-12 subset that ajv validates) of a SandboxPolicy document.
 * additionalProperties is false everywhere so a typo is an error with a path, not a silently ignored field.
 */
const dnsSubdomain = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' };
const name63 = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' };
// A qualified label key: optional DNS prefix and a name of at most 63 characters.
const labelKey = {
  type: 'string',
  minLength: 1,
  maxLength: 317,
  pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$',
};
const labelValue = { type: 'string', maxLength: 63, pattern: '^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$' };
const stringList = { type: 'array', items: { type: 'string', minLength: 1 } };

const labelSelector = {
  type: 'object',
  description: 'A Kubernetes label selector: every matchLabels entry and every matchExpressions requirement must hold.',
  additionalProperties: false,
  properties: {
    matchLabels: {
      type: 'object',
      description: 'Labels that must be present with exactly these values.',
      propertyNames: labelKey,
      additionalProperties: labelValue,
    },
    matchExpressions: {
      type: 'array',
      description: 'Requirements on labels: In and NotIn take values, Exists and DoesNotExist take none.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'operator'],
        properties: {
          key: labelKey,
          operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: labelValue },
        },
      },
    },
  },
};

const nodeSelectorRequirement = {
  type: 'object',
  description: 'A node label requirement: In and NotIn take values, Exists and DoesNotExist none, Gt and Lt one integer.',
  additionalProperties: false,
  required: ['key', 'operator'],
  properties: {
    key: labelKey,
    operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] },
    values: { type: 'array', items: labelValue },
  },
};

const toleration = {
  type: 'object',
  description: 'A pod toleration, added to every pod moved into this profile (the core/v1 Toleration fields).',
  additionalProperties: false,
  properties: {
    key: { type: 'string' },
    operator: { enum: ['Equal', 'Exists'] },
    value: { type: 'string' },
    effect: { enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'] },
    tolerationSeconds: { type: 'integer' },
  },
};

const profile = {
  type: 'object',
  additionalProperties: false,
  required: ['runtimeClassName'],
  description: 'A runtime profile: the RuntimeClass a sandboxed pod gets, and how it is scheduled onto sandbox nodes.',
  properties: {
    runtimeClassName: { ...dnsSubdomain, description: 'The RuntimeClass pods moved into this profile run with.' },
    displayName: { type: 'string', minLength: 1, description: 'The name messages use (default: the profile name).' },
    nodeAffinity: {
      type: 'array',
      description: 'Requirements merged into every required node selector term of the pod.',
      // Bounds let the API server's CEL cost estimate accept the CRD's cross-field rules (sandbox-policy-crd.ts).
      maxItems: 32,
      items: nodeSelectorRequirement,
    },
    nodeSelector: {
      type: 'object',
      description: "Node labels the pod must select (default: the RuntimeClass's scheduling.nodeSelector).",
      propertyNames: labelKey,
      additionalProperties: labelValue,
    },
    tolerations: {
      type: 'array',
      description: "Tolerations added to the pod (default: the RuntimeClass's scheduling.tolerations).",
      maxItems: 32,
      items: toleration,
    },
    unsupported: {
      type: 'array',
      description: 'Pod features this runtime cannot host: a pod asking for one is refused rather than moved here.',
      uniqueItems: true,
      items: { enum: [...POD_FEATURES] },
    },
  },
};

const mode = {
  description:
    'enforce (default): violations are rejected; warn: admitted unchanged with a warning; audit: admitted with an audit annotation.',
  enum: ['enforce', 'warn', 'audit'],
};

const rule = {
  type: 'object',
  additionalProperties: false,
  description: 'A rule: rules are tried in order and the first whose match holds decides.',
  required: ['name', 'action'],
  properties: {
    name: { ...name63, description: 'Unique name; it appears in logs, annotations and messages.' },
    action: {
      description: 'sandbox: inject runtime; require: reject unless the pod already asks for an allowed sandbox; exempt: admit unchanged.',
      enum: ['sandbox', 'require', 'exempt'],
    },
    runtime: { ...name63, description: 'The profile a sandbox rule injects (a built-in one or one of spec.profiles).' },
    allowedRuntimes: {
      type: 'array',
      description: 'Profiles whose RuntimeClasses satisfy the rule (default: every profile).',
      minItems: 1,
      maxItems: 16,
      items: name63,
    },
    mode,
    match: {
      type: 'object',
      description: 'The pods the rule governs: every criterion named must hold; an absent one matches everything.',
      additionalProperties: false,
      properties: {
        podSelector: { ...labelSelector, description: "The pod's labels match this selector." },
        namespaces: { ...stringList, description: 'The namespace name matches one of these globs (team-*, ci-?).' },
        excludeNamespaces: { ...stringList, description: 'The namespace name matches none of these globs.' },
        namespaceSelector: { ...labelSelector, description: "The namespace's labels match this selector." },
        serviceAccounts: { ...stringList, description: 'spec.serviceAccountName (default "default") matches one of these globs.' },
        images: {
          type: 'object',
          description: 'Container images (init, regular, ephemeral), normalised the way the runtime pulls them.',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            from: { ...stringList, description: 'Any image comes from one of these registries or path prefixes.' },
            notFrom: { ...stringList, description: 'Any image comes from none of these registries or path prefixes.' },
          },
        },
      },
    },
  },
};

/** The one schema: parse.ts validates with it and `render schema` prints it for editors. */
export const policySchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'SandboxPolicy',
  description: 'sandbox-admission policy (README, "Writing a policy")',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'spec'],
  properties: {
    apiVersion: { const: 'sandbox-admission.io/v1alpha1' },
    kind: { const: 'SandboxPolicy' },
    metadata: {
      type: 'object',
      additionalProperties: true,
      properties: { name: { type: 'string' } },
    },
    spec: {
      type: 'object',
      description: 'Which pods run in which sandbox runtime (README, "Writing a policy").',
      additionalProperties: false,
      // Required so that a file torn before its rules (a partial write, a truncated copy) is refused instead of
      // being served as a policy that governs nothing; "govern nothing" is written `rules: []`.
      required: ['rules'],
      properties: {
        exemptNamespaces: {
          ...stringList,
          description: "Namespaces never governed (default: kube-system, kube-public, kube-node-lease); the webhook's own always is.",
        },
        profiles: {
          type: 'object',
          description: 'Runtime profiles by name, besides the built-in gvisor and kata; one of the same name replaces the built-in.',
          propertyNames: name63,
          maxProperties: 64,
          additionalProperties: profile,
        },
        namespaceLabels: {
          type: 'object',
          description:
            'Namespaces labelled sandbox-admission.io/runtime=<profile> (and sandbox-admission.io/mode) are governed without a rule.',
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean', description: 'Honour the namespace labels (default true).' },
            defaultMode: { ...mode, description: 'The mode of a labelled namespace without sandbox-admission.io/mode.' },
            allowedGroups: {
              ...stringList,
              description: "Groups that may remove or weaken a namespace's labels (default: system:masters).",
            },
            allowedUsers: { ...stringList, description: "Users that may remove or weaken a namespace's labels." },
          },
        },
        rules: {
          type: 'array',
          description: 'Tried in order, the first that matches decides; required (a policy that governs nothing by rule says rules: []).',
          // The bounds here and on lists below price the CRD's CEL rules within the API server's budget.
          maxItems: 256,
          items: rule,
        },
      },
    },
  },
} as const;
