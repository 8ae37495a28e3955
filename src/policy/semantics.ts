import type { CodedError } from '../errors.ts';
import type { NodeSelectorRequirement, Toleration } from '../k8s/pod.ts';
import { BUILTIN_PROFILES } from './defaults.ts';
import type { LabelSelector } from '../match/types.ts';
import type { PolicyDocument } from './types.ts';

/** Checks the schema cannot express: references between fields and Kubernetes' own validation rules. */
export function checkPolicySemantics(document: PolicyDocument): CodedError[] {
  const problems: CodedError[] = [];
  const profiles = { ...BUILTIN_PROFILES, ...(document.spec.profiles ?? {}) };
  const profileNames = Object.keys(profiles);

  const byClass = new Map<string, string>();
  for (const [name, profile] of Object.entries(profiles)) {
    const path = `spec.profiles.${name}`;
    const other = byClass.get(profile.runtimeClassName);
    if (other !== undefined) {
      problems.push({
        code: 'POLICY_CONFLICT',
        path: `${path}.runtimeClassName`,
        message: `profiles "${other}" and "${name}" both use runtimeClassName "${profile.runtimeClassName}"; give each profile its own RuntimeClass`,
      });
    }
    byClass.set(profile.runtimeClassName, name);
    (profile.nodeAffinity ?? []).forEach((req, i) => {
      problems.push(...checkNodeRequirement(req, `${path}.nodeAffinity[${i}]`));
    });
    (profile.tolerations ?? []).forEach((t, i) => {
      problems.push(...checkToleration(t, `${path}.tolerations[${i}]`));
    });
  }

  const ruleNames = new Map<string, number>();
  (document.spec.rules ?? []).forEach((rule, i) => {
    const path = `spec.rules[${i}]`;
    const earlier = ruleNames.get(rule.name);
    if (earlier !== undefined) {
      problems.push({
        code: 'POLICY_CONFLICT',
        path: `${path}.name`,
        message: `rule name "${rule.name}" is already used by spec.rules[${earlier}]; rule names appear in logs and annotations, so they must be unique`,
      });
    } else {
      ruleNames.set(rule.name, i);
    }
    const unknown = (name: string, at: string): void => {
      if (!Object.hasOwn(profiles, name)) {
        problems.push({
          code: 'POLICY_REFERENCE',
          path: at,
          message: `no runtime profile "${name}" (known: ${profileNames.join(', ')})`,
        });
      }
    };
    if (rule.action === 'sandbox') {
      if (rule.runtime === undefined) {
        problems.push({
          code: 'POLICY_SCHEMA',
          path: `${path}.runtime`,
          message: 'a sandbox rule must name the runtime profile to inject',
        });
      } else {
        unknown(rule.runtime, `${path}.runtime`);
        if (rule.allowedRuntimes && !rule.allowedRuntimes.includes(rule.runtime)) {
          problems.push({
            code: 'POLICY_CONFLICT',
            path: `${path}.allowedRuntimes`,
            message: `must include the rule's own runtime "${rule.runtime}"`,
          });
        }
      }
    } else if (rule.runtime !== undefined) {
      problems.push({
        code: 'POLICY_SCHEMA',
        path: `${path}.runtime`,
        message: `only sandbox rules inject a runtime; a ${rule.action} rule ${rule.action === 'require' ? 'lists what it accepts in allowedRuntimes' : 'takes no runtime'}`,
      });
    }
    if (rule.action === 'exempt' && rule.allowedRuntimes !== undefined) {
      problems.push({ code: 'POLICY_SCHEMA', path: `${path}.allowedRuntimes`, message: 'an exempt rule takes no allowedRuntimes' });
    }
    (rule.allowedRuntimes ?? []).forEach((name, j) => {
      unknown(name, `${path}.allowedRuntimes[${j}]`);
    });
    const match = rule.match ?? {};
    if (match.podSelector) problems.push(...checkLabelSelector(match.podSelector, `${path}.match.podSelector`));
    if (match.namespaceSelector) problems.push(...checkLabelSelector(match.namespaceSelector, `${path}.match.namespaceSelector`));
  });
  return problems;
}

function checkLabelSelector(selector: LabelSelector, path: string): CodedError[] {
  return (selector.matchExpressions ?? []).flatMap((req, i) => {
    const at = `${path}.matchExpressions[${i}].values`;
    const count = req.values?.length ?? 0;
    if ((req.operator === 'In' || req.operator === 'NotIn') && count === 0) {
      return [{ code: 'POLICY_SCHEMA' as const, path: at, message: `operator ${req.operator} needs at least one value` }];
    }
    if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && count > 0) {
      return [{ code: 'POLICY_SCHEMA' as const, path: at, message: `operator ${req.operator} takes no values` }];
    }
    return [];
  });
}

function checkNodeRequirement(req: NodeSelectorRequirement, path: string): CodedError[] {
  const count = req.values?.length ?? 0;
  const at = `${path}.values`;
  switch (req.operator) {
    case 'In':
    case 'NotIn':
      return count === 0 ? [{ code: 'POLICY_SCHEMA', path: at, message: `operator ${req.operator} needs at least one value` }] : [];
    case 'Exists':
    case 'DoesNotExist':
      return count > 0 ? [{ code: 'POLICY_SCHEMA', path: at, message: `operator ${req.operator} takes no values` }] : [];
    default:
      return count !== 1 || !/^-?\d+$/.test(req.values?.[0] ?? '')
        ? [{ code: 'POLICY_SCHEMA', path: at, message: `operator ${req.operator} needs exactly one integer value` }]
        : [];
  }
}

function checkToleration(t: Toleration, path: string): CodedError[] {
  const problems: CodedError[] = [];
  if (t.operator === 'Exists' && t.value) {
    problems.push({ code: 'POLICY_SCHEMA', path: `${path}.value`, message: 'must be empty when operator is Exists' });
  }
  if (!t.key && t.operator !== 'Exists') {
    problems.push({ code: 'POLICY_SCHEMA', path: `${path}.operator`, message: 'must be Exists when key is empty' });
  }
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
    problems.push({ code: 'POLICY_SCHEMA', path: `${path}.tolerationSeconds`, message: 'only applies to effect NoExecute' });
  }
  return problems;
}
