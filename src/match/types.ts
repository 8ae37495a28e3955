import type { LabelSelectorRequirement } from '../k8s/pod.ts';
import type { ImageLocation } from './image-ref.ts';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface ImageMatch {
  /** Matches when any container image comes from one of these registries/prefixes. */
  from?: string[];
  /** Matches when any container image comes from none of these registries/prefixes. */
  notFrom?: string[];
}

/** A rule's `match` as written in the policy: every criterion present must hold. */
export interface MatchSpec {
  podSelector?: LabelSelector;
  namespaces?: string[];
  excludeNamespaces?: string[];
  namespaceSelector?: LabelSelector;
  serviceAccounts?: string[];
  images?: ImageMatch;
}

/** Everything a rule's match looks at, gathered once per request. */
export interface MatchSubject {
  namespace: string;
  namespaceLabels: Readonly<Record<string, string>>;
  podLabels: Readonly<Record<string, string>>;
  serviceAccount: string;
  /** Every container image (init, regular, ephemeral), parsed once. */
  images: readonly ImageLocation[];
}

/** A compiled match: a pure predicate over the subject. */
export type Matcher = (subject: MatchSubject) => boolean;
