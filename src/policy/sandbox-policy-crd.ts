/**
 * The SandboxPolicy CustomResourceDefinition, generated from the runtime's JSON Schema (schema.ts): the API server
 * and the webhook check a policy against one description, so `kubectl apply` refuses what the webhook would.
 * JSON Schema keywords a structural schema lacks are translated (const -> enum, uniqueItems -> a set list,
 * propertyNames -> a CEL rule over the keys); the cross-field checks of semantics.ts that CEL can say are added as
 * x-kubernetes-validations. An unknown keyword fails the generator, so a schema change cannot be silently dropped.
 */
import { BUILTIN_PROFILES } from './defaults.ts';
import { policySchema } from './schema.ts';

export const SANDBOX_POLICY_GROUP = 'sandbox-admission.io';
export const SANDBOX_POLICY_VERSION = 'v1alpha1';
export const SANDBOX_POLICY_PLURAL = 'sandboxpolicies';
export const SANDBOX_POLICY_KIND = 'SandboxPolicy';
/** The one SandboxPolicy in force in CRD mode (--policy-name); every other object is reported NotInForce. */
export const DEFAULT_SANDBOX_POLICY_NAME = 'default';

type Schema = Record<string, unknown>;
interface Validation {
  rule: string;
  message: string;
  fieldPath?: string;
}

const builtins = Object.keys(BUILTIN_PROFILES);
const celList = (values: readonly string[]) => `[${values.map((v) => `'${v}'`).join(', ')}]`;
const knownProfile = (name: string) => `${name} in ${celList(builtins)} || (has(self.profiles) && ${name} in self.profiles)`;

const selectorRequirementRules: Validation[] = [
  {
    rule: "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
    message: 'operator In and NotIn need at least one value',
    fieldPath: '.values',
  },
  {
    rule: "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
    message: 'operator Exists and DoesNotExist take no values',
    fieldPath: '.values',
  },
];

/**
 * semantics.ts in CEL, where CEL can say it, by the place in the schema they apply to (`[]` an array item, `{}` a
 * map value). Runtime-only: two profiles with one runtimeClassName (a pairwise comparison over the profiles and
 * the built-in ones), and label keys in matchLabels and nodeSelector (see propertyNames below). The CRD e2e test
 * lists exactly which invalid documents only the runtime refuses; they get Accepted=False.
 */
const CEL_RULES: ReadonlyArray<{ at: RegExp; rules: Validation[] }> = [
  {
    at: /^\.spec$/,
    rules: [
      {
        rule: `!has(self.rules) || self.rules.all(r, !has(r.runtime) || ${knownProfile('r.runtime')})`,
        message: `a rule's runtime must name a profile: built in (${builtins.join(', ')}) or in spec.profiles`,
        fieldPath: '.rules',
      },
      {
        rule: `!has(self.rules) || self.rules.all(r, !has(r.allowedRuntimes) || r.allowedRuntimes.all(n, ${knownProfile('n')}))`,
        message: `a rule's allowedRuntimes must name profiles: built in (${builtins.join(', ')}) or in spec.profiles`,
        fieldPath: '.rules',
      },
    ],
  },
  {
    at: /^\.spec\.rules\[\]$/,
    rules: [
      {
        rule: "self.action != 'sandbox' || has(self.runtime)",
        message: 'a sandbox rule must name the runtime profile to inject',
        fieldPath: '.runtime',
      },
      {
        rule: "self.action == 'sandbox' || !has(self.runtime)",
        message: 'only sandbox rules inject a runtime; a require rule lists what it accepts in allowedRuntimes',
        fieldPath: '.runtime',
      },
      {
        rule: "self.action != 'exempt' || !has(self.allowedRuntimes)",
        message: 'an exempt rule takes no allowedRuntimes',
        fieldPath: '.allowedRuntimes',
      },
      {
        rule: "self.action != 'sandbox' || !has(self.runtime) || !has(self.allowedRuntimes) || self.runtime in self.allowedRuntimes",
        message: "allowedRuntimes must include the rule's own runtime",
        fieldPath: '.allowedRuntimes',
      },
    ],
  },
  { at: /Selector\.matchExpressions\[\]$/, rules: selectorRequirementRules },
  {
    at: /\.nodeAffinity\[\]$/,
    rules: [
      ...selectorRequirementRules,
      {
        rule: "!(self.operator in ['Gt', 'Lt']) || (has(self.values) && size(self.values) == 1 && self.values[0].matches('^-?[0-9]+$'))",
        message: 'operator Gt and Lt need exactly one integer value',
        fieldPath: '.values',
      },
    ],
  },
  {
    at: /\.tolerations\[\]$/,
    rules: [
      {
        rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
        message: 'value must be empty when operator is Exists',
        fieldPath: '.value',
      },
      {
        rule: "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
        message: 'operator must be Exists when key is empty',
        fieldPath: '.operator',
      },
      {
        rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
        message: 'tolerationSeconds only applies to effect NoExecute',
        fieldPath: '.tolerationSeconds',
      },
    ],
  },
];

/** Lists the API server merges and checks by key: rule names are unique (semantics.ts), and apply merges by name. */
const LIST_MAPS: ReadonlyArray<{ at: RegExp; keys: string[] }> = [{ at: /^\.spec\.rules$/, keys: ['name'] }];

/** Keywords copied as they are; everything else is translated below or refused. */
const COPIED = new Set([
  'type',
  'description',
  'required',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'enum',
]);
/** The document's own bookkeeping: the API server owns apiVersion, kind and metadata of a custom resource. */
const ROOT_ONLY = new Set(['$schema', 'title']);

/** The structural OpenAPI v3 schema of the spec, from policySchema. */
export function toStructuralSchema(node: Schema, at: string, used: Set<RegExp>): Schema {
  const out: Schema = {};
  const validations: Validation[] = [];
  for (const [keyword, value] of Object.entries(node)) {
    if (COPIED.has(keyword)) out[keyword] = value;
    else if (keyword === 'const') out.enum = [value];
    else if (keyword === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([name, child]) => [name, toStructuralSchema(child, `${at}.${name}`, used)]),
      );
    } else if (keyword === 'items') out.items = toStructuralSchema(value as Schema, `${at}[]`, used);
    else if (keyword === 'additionalProperties') {
      // false is the structural default (unknown fields are pruned, and refused under kubectl's strict validation).
      if (value !== false) out.additionalProperties = toStructuralSchema(value as Schema, `${at}{}`, used);
    } else if (keyword === 'uniqueItems') {
      if (value === true) out['x-kubernetes-list-type'] = 'set';
    } else if (keyword === 'propertyNames') {
      // CEL cannot bound a map key's length, so a key rule over a map of small values (labels: strings) is priced
      // past the API server's budget; only maps of objects (profiles) are few enough. Label keys stay runtime-only.
      if ((node.additionalProperties as Schema | undefined)?.type === 'object') validations.push(...keyRules(value as Schema));
    } else throw new Error(`the CRD generator does not know the JSON Schema keyword "${keyword}" (at ${at || '.'})`);
  }
  if (out.type === undefined && Array.isArray(out.enum)) out.type = typeof out.enum[0];
  for (const entry of CEL_RULES) {
    if (entry.at.test(at)) {
      used.add(entry.at);
      validations.push(...entry.rules);
    }
  }
  for (const entry of LIST_MAPS) {
    if (entry.at.test(at)) {
      used.add(entry.at);
      out['x-kubernetes-list-type'] = 'map';
      out['x-kubernetes-list-map-keys'] = entry.keys;
    }
  }
  if (validations.length > 0) out['x-kubernetes-validations'] = validations;
  return out;
}

function keyRules(names: Schema): Validation[] {
  const conditions = [
    names.minLength !== undefined ? `size(k) >= ${String(names.minLength)}` : undefined,
    names.maxLength !== undefined ? `size(k) <= ${String(names.maxLength)}` : undefined,
    names.pattern !== undefined ? `k.matches(${JSON.stringify(names.pattern)})` : undefined,
  ].filter((c) => c !== undefined);
  const unknown = Object.keys(names).filter((k) => !['type', 'minLength', 'maxLength', 'pattern', 'description'].includes(k));
  if (unknown.length > 0) throw new Error(`the CRD generator cannot say propertyNames keywords ${unknown.join(', ')} in CEL`);
  const kind = names.maxLength === 63 ? 'a lowercase name of at most 63 characters' : 'a Kubernetes label key';
  // The API server reports this at the map (spec.profiles), not the key: a messageExpression naming the bad keys
  // is priced past its budget.
  return [{ rule: `self.all(k, ${conditions.join(' && ')})`, message: `every key must be ${kind}` }];
}

const condition = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', description: 'Accepted or Ready.' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', format: 'int64', description: 'The metadata.generation this condition describes.' },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: { type: 'string', description: 'CamelCase reason: Accepted, Invalid, NotInForce, InForce, AdmissionPoliciesStale.' },
    message: { type: 'string', description: 'What a person needs to know, with every refused field path.' },
  },
};

const statusSchema = {
  type: 'object',
  description: 'What the webhook made of this policy (written by the leader replica only).',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64', description: 'The metadata.generation the webhook last checked.' },
    digest: {
      type: 'string',
      description: 'policy-digest of the policy in force from this object, as carried by the generated admission policies.',
    },
    rules: { type: 'integer', description: 'Rules of the policy in force from this object.' },
    mode: { type: 'string', description: 'The modes of those rules (enforce, warn, audit; comma-separated when mixed).' },
    conditions: {
      type: 'array',
      description:
        'Accepted: the checks passed and this object is the one in force. Ready: in force in the webhook and the generated admission policies carry it.',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: condition,
    },
  },
};

/** The CustomResourceDefinition object, as `render crd` prints it and manifests/base/crd.yaml holds it. */
export function renderSandboxPolicyCrd(): Record<string, unknown> {
  const used = new Set<RegExp>();
  const root = policySchema as unknown as Schema;
  const spec = toStructuralSchema((root.properties as Record<string, Schema>).spec!, '.spec', used);
  const unused = [...CEL_RULES, ...LIST_MAPS].filter((entry) => !used.has(entry.at));
  if (unused.length > 0) throw new Error(`CEL rules for ${unused.map((e) => e.at).join(', ')} match no place in the policy schema`);
  for (const keyword of Object.keys(root)) {
    if (!ROOT_ONLY.has(keyword) && !['type', 'description', 'additionalProperties', 'required', 'properties'].includes(keyword))
      throw new Error(`the CRD generator does not know the root keyword "${keyword}"`);
  }
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${SANDBOX_POLICY_PLURAL}.${SANDBOX_POLICY_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'sandbox-admission' },
    },
    spec: {
      group: SANDBOX_POLICY_GROUP,
      scope: 'Cluster',
      names: {
        plural: SANDBOX_POLICY_PLURAL,
        singular: 'sandboxpolicy',
        kind: SANDBOX_POLICY_KIND,
        listKind: 'SandboxPolicyList',
        shortNames: ['sbp'],
      },
      versions: [
        {
          name: SANDBOX_POLICY_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Rules', type: 'integer', jsonPath: '.status.rules', description: 'Rules in force from this object' },
            { name: 'Mode', type: 'string', jsonPath: '.status.mode', description: 'Modes of those rules' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
            { name: 'Digest', type: 'string', jsonPath: '.status.digest', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `${String(root.description)}. In force: the object named "${DEFAULT_SANDBOX_POLICY_NAME}" only.`,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status: statusSchema,
              },
            },
          },
        },
      ],
    },
  };
}
