// Container images without a registry: a root filesystem directory packed as a one-layer image archive in the
// docker-archive format that `ctr images import` reads (manifest.json with RepoTags, the config, the layer tar),
// so the node suite's pods run with imagePullPolicy: Never and nothing is ever pulled.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ImageSpec {
  /** Full reference as the CRI reports it, e.g. localhost/e2e/busybox:1.35 */
  ref: string;
  rootfs: string;
  entrypoint?: readonly string[];
  cmd?: readonly string[];
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Packs `spec.rootfs` into `<workDir>/<name>.tar` and returns its path. */
export function buildImageArchive(spec: ImageSpec, workDir: string, name: string): string {
  const dir = join(workDir, `${name}-archive`);
  mkdirSync(dir, { recursive: true });
  // Numeric root ownership and a fixed mtime: the layer's digest depends only on the files.
  execFileSync('tar', [
    '--numeric-owner',
    '--owner=0',
    '--group=0',
    '--mtime=@0',
    '--sort=name',
    '-C',
    spec.rootfs,
    '-cf',
    join(dir, 'layer.tar'),
    '.',
  ]);
  const diffId = sha256(join(dir, 'layer.tar'));
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/bin'],
      WorkingDir: '/',
      ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
    },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created_by: 'sandbox-admission e2e harness (oci-image.ts)' }],
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: [spec.ref], Layers: ['layer.tar'] }]));
  const archive = join(workDir, `${name}.tar`);
  execFileSync('tar', ['-C', dir, '-cf', archive, 'manifest.json', 'config.json', 'layer.tar']);
  return archive;
}

/** A busybox root filesystem: the static binary at /bin/busybox and a relative symlink per applet. */
export function busyboxRootfs(busybox: string, dir: string): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'busybox');
  for (const applet of applets) symlinkSync('busybox', join(dir, 'bin', applet));
  return dir;
}

/** The pod sandbox ("pause") image's root filesystem: Kubernetes' own pause.c, built static. */
export function pauseRootfs(pause: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(pause, join(dir, 'pause'));
  chmodSync(join(dir, 'pause'), 0o755);
  return dir;
}
