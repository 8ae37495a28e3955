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
  additionalProperties: false,
  properties: {
    matchLabels: { type: 'object', propertyNames: labelKey, additionalProperties: labelValue },
    matchExpressions: {
      type: 'array',
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
  properties: {
    runtimeClassName: dnsSubdomain,
    displayName: { type: 'string', minLength: 1 },
    nodeAffinity: { type: 'array', items: nodeSelectorRequirement },
    nodeSelector: { type: 'object', propertyNames: labelKey, additionalProperties: labelValue },
    tolerations: { type: 'array', items: toleration },
    unsupported: { type: 'array', uniqueItems: true, items: { enum: [...POD_FEATURES] } },
  },
};

const mode = { enum: ['enforce', 'warn', 'audit'] };

const rule = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'action'],
  properties: {
    name: name63,
    action: { enum: ['sandbox', 'require', 'exempt'] },
    runtime: name63,
    allowedRuntimes: { type: 'array', minItems: 1, items: name63 },
    mode,
    match: {
      type: 'object',
      additionalProperties: false,
      properties: {
        podSelector: labelSelector,
        namespaces: stringList,
        excludeNamespaces: stringList,
        namespaceSelector: labelSelector,
        serviceAccounts: stringList,
        images: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { from: stringList, notFrom: stringList },
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
      additionalProperties: false,
      // Required so that a file torn before its rules (a partial write, a truncated copy) is refused instead of
      // being served as a policy that governs nothing; "govern nothing" is written `rules: []`.
      required: ['rules'],
      properties: {
        exemptNamespaces: stringList,
        profiles: { type: 'object', propertyNames: name63, additionalProperties: profile },
        namespaceLabels: {
          type: 'object',
          additionalProperties: false,
          properties: { enabled: { type: 'boolean' }, defaultMode: mode, allowedGroups: stringList, allowedUsers: stringList },
        },
        rules: { type: 'array', items: rule },
      },
    },
  },
} as const;
