import { WEAKEN_NAMESPACE_PERMISSION } from '../decision/namespace-guard.ts';
import type { Requester } from '../decision/types.ts';
import type { KubeApiClient } from '../kube/api-client.ts';

export type AuthorizerLog = { warn(data: object, message: string): void };

/**
 * Asks the API server whether `requester` holds WEAKEN_NAMESPACE_PERMISSION for `namespace`: one
 * SubjectAccessReview (the webhook's ServiceAccount may create them, manifests/base/rbac.yaml), with the
 * requester's full identity as the admission request carried it. Throws when the API cannot answer; the
 * caller then refuses the change.
 */
export function createNamespaceWeakeningAuthorizer(
  client: KubeApiClient,
  log: AuthorizerLog,
): (requester: Requester, namespace: string) => Promise<boolean> {
  return async (requester, namespace) => {
    try {
      const review = await client.request<{ status?: { allowed?: boolean } }>({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            ...(requester.username !== undefined ? { user: requester.username } : {}),
            ...(requester.uid !== undefined ? { uid: requester.uid } : {}),
            ...(requester.groups ? { groups: [...requester.groups] } : {}),
            ...(requester.extra ? { extra: Object.fromEntries(Object.entries(requester.extra).map(([k, v]) => [k, [...v]])) } : {}),
            resourceAttributes: { ...WEAKEN_NAMESPACE_PERMISSION, namespace, name: namespace },
          },
        },
      });
      return review.status?.allowed === true;
    } catch (error) {
      log.warn(
        { err: error, namespace, user: requester.username },
        'SubjectAccessReview for a namespace label change failed; the change is refused',
      );
      throw error;
    }
  };
}
