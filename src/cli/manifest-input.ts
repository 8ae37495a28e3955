import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ManifestInput {
  /** The path as given (or found in a directory), `-` for stdin. */
  file: string;
  text: string;
}

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;

/**
 * What `-f` names, as kubectl reads it: files, `-` for stdin (once), directories (their .yaml, .yml and .json
 * files in name order; subdirectories too with `recursive`). Unreadable paths are reported, the rest still read.
 */
export function readManifestInputs(
  paths: readonly string[],
  options: { recursive: boolean; readStdin?: () => string },
): { inputs: ManifestInput[]; errors: string[] } {
  const inputs: ManifestInput[] = [];
  const errors: string[] = [];
  const readStdin = options.readStdin ?? (() => readFileSync(0, 'utf8'));
  let stdinRead = false;
  const visit = (path: string, top: boolean): void => {
    if (path === '-' && top) {
      if (stdinRead) return;
      stdinRead = true;
      try {
        inputs.push({ file: '-', text: readStdin() });
      } catch (cause) {
        errors.push(`cannot read stdin: ${(cause as Error).message}`);
      }
      return;
    }
    try {
      if (statSync(path).isDirectory()) {
        if (!top && !options.recursive) return;
        for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
          const child = join(path, entry.name);
          if (entry.isDirectory()) visit(child, false);
          else if (MANIFEST_EXTENSIONS.test(entry.name)) inputs.push({ file: child, text: readFileSync(child, 'utf8') });
        }
        return;
      }
      inputs.push({ file: path, text: readFileSync(path, 'utf8') });
    } catch (cause) {
      errors.push(`cannot read ${path}: ${describeFsError(cause)}`);
    }
  };
  for (const path of paths) visit(path, true);
  return { inputs, errors };
}

function describeFsError(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return (cause as Error).message;
}
