import { fileURLToPath } from 'node:url';

/** The example policy, the one `npm start` serves and the manifests' ConfigMap is generated from. */
export const EXAMPLE_POLICY_PATH = fileURLToPath(new URL('../../manifests/base/policy.yaml', import.meta.url));
/** Where `npm start` keeps its development CA and serving certificate. */
export const DEV_CERTS_DIR = fileURLToPath(new URL('../../certs', import.meta.url));
