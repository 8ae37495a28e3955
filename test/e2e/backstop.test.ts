// The paths around the mutating webhook, closed by /validate (the project's ValidatingWebhookConfiguration), each
// proven against a real kube-apiserver. The mutating webhook is deliberately NOT registered here: whatever left a
// governed pod unsandboxed (another webhook, an outage with fail-open, a disabled configuration), the backstop holds.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { describeSource, POLICY_SOURCES, policySourceOptions } from './harness/sandbox-policy.ts';
import { readManifests, renderWebhookConfiguration, startWebhookProcess, type WebhookProcess } from './harness/webhook.ts';
import { impersonating, rejection, waitFor } from './harness/api-assertions.ts';

const bins = resolveBinaries();

const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: e2e-backstop}
spec:
  namespaceLabels: {allowedGroups: [platform-admins, system:masters]}
  rules:
    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
    - name: outside-images
      match: {namespaces: [images], images: {notFrom: [registry.corp/]}}
      action: require
`;

function pod(name: string, labels: Record<string, string> = {}, spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }], ...spec } };
}

// Both policy sources (--policy-source): the mounted file, and the SandboxPolicy object "default" from the API.
for (const source of POLICY_SOURCES)
  describe(`the validating backstop behind a real kube-apiserver (${describeSource(source)})`, { skip: bins.skip ?? false }, () => {
    let cluster: Cluster;
    let webhook: WebhookProcess;
    let core: k8s.CoreV1Api;
    let objects: k8s.KubernetesObjectApi;

    before(
      async () => {
        cluster = await startCluster({ binaries: bins.binaries! });
        const kc = cluster.kubeConfig;
        core = kc.makeApiClient(k8s.CoreV1Api);
        objects = k8s.KubernetesObjectApi.makeApiClient(kc);
        for (const rc of readManifests('manifests/base/runtime-classes.yaml')) await objects.create(rc as k8s.KubernetesObject);
        await kc.makeApiClient(k8s.NodeV1Api).createRuntimeClass({ body: { metadata: { name: 'runc' }, handler: 'runc' } });
        webhook = await startWebhookProcess({
          dir: cluster.dir,
          kubeconfigPath: cluster.kubeconfigPath,
          ...(await policySourceOptions(source, cluster, bins.binaries!.kubectl, POLICY)),
        });
        await objects.create(
          renderWebhookConfiguration('manifests/base/validating-webhook.yaml', webhook.url, webhook.caPem) as k8s.KubernetesObject,
        );
        await createNamespace(kc, 'apps');
        await createNamespace(kc, 'images');
        await createNamespace(kc, 'governed', { 'sandbox-admission.io/runtime': 'gvisor' });
        // Developers may edit namespaces and create pods; the controller identity may create pods in apps.
        const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
        await rbac.createClusterRole({
          body: {
            metadata: { name: 'e2e-dev' },
            rules: [
              { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'update', 'patch', 'create'] },
              { apiGroups: [''], resources: ['pods'], verbs: ['create', 'get'] },
            ],
          },
        });
        for (const subject of [
          { kind: 'User', name: 'dev' },
          { kind: 'ServiceAccount', name: 'replicaset-controller', namespace: 'kube-system' },
        ]) {
          await rbac.createClusterRoleBinding({
            body: {
              metadata: { name: `e2e-dev-${subject.name}` },
              roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'e2e-dev' },
              subjects: [{ ...subject, ...(subject.kind === 'User' ? { apiGroup: 'rbac.authorization.k8s.io' } : {}) }],
            },
          });
        }
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          try {
            await core.createNamespacedPod({ namespace: 'apps', body: pod(`probe-${Date.now()}`, { app: 'untrusted' }), dryRun: 'All' });
          } catch {
            return; // the backstop is answering
          }
          await new Promise((r) => setTimeout(r, 250));
        }
        throw new Error('the validating webhook never took effect');
      },
      { timeout: 300_000 },
    );

    after(async () => {
      await webhook?.stop();
      await cluster?.stop();
    });

    it('the project webhook configurations rely on no objectSelector (pod labels belong to the pod author)', () => {
      for (const file of ['manifests/base/mutating-webhook.yaml', 'manifests/base/validating-webhook.yaml']) {
        for (const doc of readManifests(file)) {
          for (const hook of doc.webhooks as Array<Record<string, unknown>>)
            assert.equal(hook.objectSelector, undefined, `${file} ${String(hook.name)}`);
        }
      }
    });

    it('1. a governed pod that reached validation unsandboxed is rejected; explicit runc too; a sandboxed one passes', async () => {
      assert.match(
        await rejection(core.createNamespacedPod({ namespace: 'apps', body: pod('bare', { app: 'untrusted' }) })),
        /admission webhook "pods\.validate\.sandbox-admission\.io" denied the request: .*requires a sandbox runtime and the pod names none/,
      );
      assert.match(
        await rejection(core.createNamespacedPod({ namespace: 'governed', body: pod('runc', {}, { runtimeClassName: 'runc' }) })),
        /asks for runtimeClassName "runc"/,
      );
      const ok = await core.createNamespacedPod({
        namespace: 'apps',
        body: pod('sandboxed', { app: 'untrusted' }, { runtimeClassName: 'gvisor' }),
      });
      assert.equal(ok.spec?.runtimeClassName, 'gvisor');
      assert.ok(await core.createNamespacedPod({ namespace: 'apps', body: pod('ordinary', { app: 'web' }) }));
    });

    it('2. a pod created as the ReplicaSet controller would (its identity, generateName, ownerReferences) gets no exemption', async () => {
      const controller = impersonating(cluster.kubeConfig, 'system:serviceaccount:kube-system:replicaset-controller').makeApiClient(
        k8s.CoreV1Api,
      );
      const body = pod('', { app: 'untrusted' });
      body.metadata = {
        generateName: 'web-5c9d-',
        labels: { app: 'untrusted' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5c9d', uid: '3f1c7a52-3d1e-4c3c-9a55-7a4c0b7f2e10', controller: true },
        ],
      };
      assert.match(await rejection(controller.createNamespacedPod({ namespace: 'apps', body })), /requires a sandbox runtime/);
    });

    it('1b. kubectl set image (or an init container patch, or a label) cannot make a runc pod governed; a sandboxed pod may change (issue 10, item 1)', async () => {
      const kubectl = (...args: string[]) =>
        spawnSync(bins.binaries!.kubectl, ['--kubeconfig', cluster.kubeconfigPath, ...args], { encoding: 'utf8', timeout: 60_000 });
      await core.createNamespacedPod({
        namespace: 'images',
        body: pod(
          'corp-runc',
          {},
          {
            initContainers: [{ name: 'init', image: 'registry.corp/init:1' }],
            containers: [{ name: 'app', image: 'registry.corp/app:1' }],
          },
        ),
      });
      // The attack: an image no rule governs at creation, then one the images rule governs, still on runc.
      const setImage = kubectl('-n', 'images', 'set', 'image', 'pod/corp-runc', 'app=docker.io/evil/app:1');
      assert.notEqual(setImage.status, 0, setImage.stdout);
      assert.match(
        setImage.stderr,
        /admission webhook "pods\.validate\.sandbox-admission\.io" denied the request: sandbox-admission denied this pod: rule "outside-images" requires a sandbox runtime/,
      );
      const initPatch = kubectl(
        '-n',
        'images',
        'patch',
        'pod',
        'corp-runc',
        '--type=json',
        '-p',
        '[{"op":"replace","path":"/spec/initContainers/0/image","value":"quay.io/evil/init:1"}]',
      );
      assert.notEqual(initPatch.status, 0);
      assert.match(initPatch.stderr, /rule "outside-images" requires a sandbox runtime/);
      // A label that makes the runc pod governed, for the audit's sake.
      const label = kubectl('-n', 'apps', 'label', 'pod', 'ordinary', 'app=untrusted', '--overwrite');
      assert.notEqual(label.status, 0);
      assert.match(label.stderr, /rule "untrusted-apps" requires a sandbox runtime/);
      const stored = await core.readNamespacedPod({ namespace: 'images', name: 'corp-runc' });
      assert.deepEqual(
        [stored.spec?.containers[0]?.image, stored.spec?.initContainers?.[0]?.image],
        ['registry.corp/app:1', 'registry.corp/init:1'],
      );
      // Ordinary updates stay allowed: another corp image, an annotation.
      assert.equal(kubectl('-n', 'images', 'set', 'image', 'pod/corp-runc', 'app=registry.corp/app:2').status, 0);
      assert.equal(kubectl('-n', 'images', 'annotate', 'pod', 'corp-runc', 'note=x').status, 0);
      // The same change on a sandboxed pod is allowed.
      await core.createNamespacedPod({
        namespace: 'images',
        body: pod('corp-gvisor', {}, { runtimeClassName: 'gvisor', containers: [{ name: 'app', image: 'registry.corp/app:1' }] }),
      });
      const sandboxed = kubectl('-n', 'images', 'set', 'image', 'pod/corp-gvisor', 'app=docker.io/evil/app:1');
      assert.equal(sandboxed.status, 0, sandboxed.stderr);
    });

    it('3b. weakening is decided by RBAC too: an admin bound to the shipped ClusterRole may, one without it may not (issue 10, item 9)', async () => {
      // A managed cluster's administrator: full rights on namespaces, but not in system:masters or the policy's lists.
      await createNamespace(cluster.kubeConfig, 'managed', { 'sandbox-admission.io/runtime': 'gvisor' });
      const rbac = cluster.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
      for (const user of ['cloud-admin', 'other-admin']) {
        await rbac.createClusterRoleBinding({
          body: {
            metadata: { name: `e2e-dev-${user}` },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'e2e-dev' },
            subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
          },
        });
      }
      const shipped = readManifests('manifests/base/rbac.yaml').find(
        (o) => o.kind === 'ClusterRole' && (o.metadata as { name: string }).name === 'sandbox-admission-namespace-label-admin',
      );
      await objects.create(shipped as k8s.KubernetesObject);
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: 'cloud-admin-weaken' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'sandbox-admission-namespace-label-admin' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'cloud-admin' }],
        },
      });

      const other = impersonating(cluster.kubeConfig, 'other-admin').makeApiClient(k8s.CoreV1Api);
      const refused = await other.readNamespace({ name: 'managed' });
      refused.metadata!.labels = { ...refused.metadata!.labels, 'sandbox-admission.io/mode': 'audit' };
      assert.match(
        await rejection(other.replaceNamespace({ name: 'managed', body: refused })),
        /weakening sandbox-admission\.io\/mode from enforce to audit is not allowed.*whoever RBAC grants the verb "weaken" on namespacelabels\.sandbox-admission\.io/,
      );

      const admin = impersonating(cluster.kubeConfig, 'cloud-admin').makeApiClient(k8s.CoreV1Api);
      // RBAC changes reach the authorizer's cache within moments.
      await waitFor(async () => {
        const ns = await admin.readNamespace({ name: 'managed' });
        ns.metadata!.labels = { ...ns.metadata!.labels, 'sandbox-admission.io/mode': 'audit' };
        return (await admin.replaceNamespace({ name: 'managed', body: ns })).metadata?.labels?.['sandbox-admission.io/mode'] === 'audit';
      });
      const removed = await admin.readNamespace({ name: 'managed' });
      delete removed.metadata!.labels!['sandbox-admission.io/runtime'];
      assert.equal(
        (await admin.replaceNamespace({ name: 'managed', body: removed })).metadata?.labels?.['sandbox-admission.io/runtime'],
        undefined,
      );
      const decisions = await webhook.waitForLogLines(
        (l) => l['msg'] === 'admission decision' && l['name'] === 'managed' && l['user'] === 'cloud-admin' && l['allowed'] === true,
        2,
      );
      assert.ok(decisions.length >= 2);
    });

    it('3. a developer cannot remove or weaken the namespace labels; an allowed admin can', async () => {
      const dev = impersonating(cluster.kubeConfig, 'dev').makeApiClient(k8s.CoreV1Api);
      const current = await dev.readNamespace({ name: 'governed' });
      current.metadata!.labels = { ...current.metadata!.labels, 'sandbox-admission.io/mode': 'audit' };
      assert.match(
        await rejection(dev.replaceNamespace({ name: 'governed', body: current })),
        /weakening sandbox-admission\.io\/mode from enforce to audit is not allowed.*Only group platform-admins, group system:masters/,
      );
      const fresh = await dev.readNamespace({ name: 'governed' });
      delete fresh.metadata!.labels!['sandbox-admission.io/runtime'];
      assert.match(
        await rejection(dev.replaceNamespace({ name: 'governed', body: fresh })),
        /removing sandbox-admission\.io\/runtime=gvisor is not allowed/,
      );
      assert.match(
        await rejection(
          dev.createNamespace({
            body: {
              metadata: { name: 'sneaky', labels: { 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'warn' } },
            },
          }),
        ),
        /may not start with sandbox-admission\.io\/mode=warn/,
      );
      // The status and finalize subresources carry labels too: removing them that way is refused as well.
      const viaStatus = await core.readNamespace({ name: 'governed' });
      delete viaStatus.metadata!.labels!['sandbox-admission.io/runtime'];
      const rbac = cluster.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
      await rbac.createClusterRole({
        body: {
          metadata: { name: 'e2e-ns-status' },
          rules: [{ apiGroups: [''], resources: ['namespaces/status', 'namespaces/finalize'], verbs: ['update'] }],
        },
      });
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: 'e2e-ns-status' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'e2e-ns-status' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'dev' }],
        },
      });
      assert.match(
        await rejection(dev.replaceNamespaceStatus({ name: 'governed', body: viaStatus })),
        /removing sandbox-admission\.io\/runtime=gvisor is not allowed/,
      );
      assert.match(
        await rejection(dev.replaceNamespaceFinalize({ name: 'governed', body: viaStatus })),
        /removing sandbox-admission\.io\/runtime=gvisor is not allowed/,
      );
      // Unrelated label edits by the developer still work.
      const other = await dev.readNamespace({ name: 'governed' });
      other.metadata!.labels = { ...other.metadata!.labels, team: 'payments' };
      assert.equal((await dev.replaceNamespace({ name: 'governed', body: other })).metadata?.labels?.team, 'payments');
      // The admin (system:masters) may weaken.
      const admin = await core.readNamespace({ name: 'governed' });
      admin.metadata!.labels = { ...admin.metadata!.labels, 'sandbox-admission.io/mode': 'warn' };
      assert.equal(
        (await core.replaceNamespace({ name: 'governed', body: admin })).metadata?.labels?.['sandbox-admission.io/mode'],
        'warn',
      );
    });

    it('4b. kubectl debug cannot make an ungoverned pod governed-but-unsandboxed through a debug image', async () => {
      await core.createNamespacedPod({
        namespace: 'images',
        body: pod('corp-only', {}, { containers: [{ name: 'app', image: 'registry.corp/app:1' }] }),
      });
      const withOutsider = await core.readNamespacedPod({ namespace: 'images', name: 'corp-only' });
      withOutsider.spec!.ephemeralContainers = [{ name: 'debugger', image: 'docker.io/someone/tool' }];
      assert.match(
        await rejection(core.replaceNamespacedPodEphemeralcontainers({ namespace: 'images', name: 'corp-only', body: withOutsider })),
        /denied this ephemeral container: with it the pod .*rule "outside-images" requires a sandbox runtime/,
      );
      const withCorpTool = await core.readNamespacedPod({ namespace: 'images', name: 'corp-only' });
      withCorpTool.spec!.ephemeralContainers = [{ name: 'debugger', image: 'registry.corp/debug:1' }];
      assert.ok(await core.replaceNamespacedPodEphemeralcontainers({ namespace: 'images', name: 'corp-only', body: withCorpTool }));
    });

    it('4. kubectl debug cannot add a privileged ephemeral container to a sandboxed pod; a plain one joins', async () => {
      await core.createNamespacedPod({ namespace: 'apps', body: pod('debug-me', { app: 'untrusted' }, { runtimeClassName: 'gvisor' }) });
      const withPrivileged = await core.readNamespacedPod({ namespace: 'apps', name: 'debug-me' });
      withPrivileged.spec!.ephemeralContainers = [{ name: 'debugger', image: 'busybox', securityContext: { privileged: true } }];
      assert.match(
        await rejection(core.replaceNamespacedPodEphemeralcontainers({ namespace: 'apps', name: 'debug-me', body: withPrivileged })),
        /ephemeral container "debugger" \(securityContext\.privileged\)/,
      );
      const plain = await core.readNamespacedPod({ namespace: 'apps', name: 'debug-me' });
      plain.spec!.ephemeralContainers = [{ name: 'debugger', image: 'busybox' }];
      const updated = await core.replaceNamespacedPodEphemeralcontainers({ namespace: 'apps', name: 'debug-me', body: plain });
      assert.equal(updated.spec?.ephemeralContainers?.[0]?.name, 'debugger');
    });

    it('5. a pod may not opt out through labels or a forged mirror-pod annotation', async () => {
      const labelled = pod('opt-out', {
        app: 'untrusted',
        'sandbox-admission.io/exempt': 'true',
        'admission.sandbox-admission.io/skip': 'true',
      });
      assert.match(await rejection(core.createNamespacedPod({ namespace: 'apps', body: labelled })), /requires a sandbox runtime/);
      // nodeName set, as on a real mirror pod, so the API server's own validation lets it through to admission.
      const forged = pod('forged-mirror', { app: 'untrusted' }, { nodeName: 'worker-1' });
      forged.metadata!.annotations = { 'kubernetes.io/config.mirror': 'deadbeef' };
      const message = await rejection(core.createNamespacedPod({ namespace: 'apps', body: forged }));
      // Only a kubelet's own mirror pods are left alone; the annotation from anyone else changes nothing.
      assert.match(message, /pods\.validate\.sandbox-admission\.io" denied the request: .*requires a sandbox runtime/);
    });

    it('6. a Deployment whose pods would be rejected is refused at apply time; a sandboxable one gets a warning', async () => {
      const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
      const deployment = (name: string, spec: Partial<k8s.V1PodSpec>): k8s.V1Deployment => ({
        metadata: { name },
        spec: {
          selector: { matchLabels: { app: 'untrusted' } },
          template: {
            metadata: { labels: { app: 'untrusted' } },
            spec: { containers: [{ name: 'c', image: 'registry.example/app:1' }], ...spec },
          },
        },
      });
      assert.match(
        await rejection(apps.createNamespacedDeployment({ namespace: 'apps', body: deployment('bad', { hostNetwork: true }) })),
        /the pods of Deployment\/bad would be rejected: .*cannot host spec\.hostNetwork/,
      );
      const response = await apps.createNamespacedDeploymentWithHttpInfo({ namespace: 'apps', body: deployment('good', {}) });
      assert.match(response.headers['warning'] ?? '', /pods of Deployment\/good will run in gVisor/);
      assert.equal(response.data.spec?.template.spec?.runtimeClassName, undefined, 'templates are never mutated');
    });

    it('7. (last: it breaks gvisor on purpose) a sandbox RuntimeClass recreated with handler runc is admitted with a warning', async () => {
      const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
      await node.deleteRuntimeClass({ name: 'gvisor' });
      const response = await node.createRuntimeClassWithHttpInfo({ body: { metadata: { name: 'gvisor' }, handler: 'runc' } });
      assert.match(
        response.headers['warning'] ?? '',
        /RuntimeClass \\?"gvisor\\?" \(runtime profile \\?"gvisor\\?"\) now uses handler \\?"runc\\?"/,
      );
      const logs = await webhook.waitForLogLines((l) => l.action === 'flag-runtime-class');
      assert.equal(logs.length, 1);
    });
  });
