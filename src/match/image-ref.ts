/**
 * Registry matching for container images. Docker's normalisation applies: `nginx` is
 * `docker.io/library/nginx`, and the first path segment is a registry host only when it has a dot,
 * a colon or is `localhost`; index.docker.io and registry-1.docker.io are docker.io. Patterns match at segment boundaries, so `registry.corp` never matches
 * `registry.corp.evil.io/x`.
 */
/** Names of Docker Hub that container runtimes pull from as docker.io (containerd and Docker resolve docker.io to registry-1.docker.io). */
export const DOCKER_HUB_ALIASES: readonly string[] = ['index.docker.io', 'registry-1.docker.io'];

export interface ImageLocation {
  host: string;
  path: string;
}

export function parseImageLocation(image: string): ImageLocation {
  const withoutDigest = image.split('@')[0] ?? image;
  const slash = withoutDigest.indexOf('/');
  const first = slash === -1 ? '' : withoutDigest.slice(0, slash);
  const isHost = slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let host = isHost ? first.toLowerCase() : 'docker.io';
  let path = isHost ? withoutDigest.slice(slash + 1) : withoutDigest;
  if (DOCKER_HUB_ALIASES.includes(host)) host = 'docker.io';
  path = stripTag(path);
  if (host === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return { host, path };
}

function stripTag(path: string): string {
  const lastSlash = path.lastIndexOf('/');
  const colon = path.indexOf(':', lastSlash + 1);
  return colon === -1 ? path : path.slice(0, colon);
}

/**
 * Compile `registry.corp/`, `registry.corp/team/`, `*.corp.example`, `docker.io/library` into a matcher of
 * parsed locations: a request parses each image once, however many rules and patterns look at it.
 */
export function compileImagePattern(pattern: string): (image: ImageLocation) => boolean {
  const trimmed = pattern.replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  const hostPattern = (slash === -1 ? trimmed : trimmed.slice(0, slash)).toLowerCase();
  const pathPrefix = slash === -1 ? '' : trimmed.slice(slash + 1);
  const hostMatches = hostPattern.startsWith('*.')
    ? (host: string) => host.endsWith(hostPattern.slice(1))
    : (host: string) => host === (DOCKER_HUB_ALIASES.includes(hostPattern) ? 'docker.io' : hostPattern);
  return (loc) => {
    if (!hostMatches(loc.host)) return false;
    return pathPrefix === '' || loc.path === pathPrefix || loc.path.startsWith(`${pathPrefix}/`);
  };
}
