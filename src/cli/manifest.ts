import { parseAllDocuments } from 'yaml';
import type { CodedError } from '../errors.ts';
import { flattenLists } from '../k8s/workloads.ts';

export interface ManifestDocument {
  /** 1-based position of the document in the file, for messages. */
  index: number;
  value?: unknown;
  error?: CodedError;
}

/**
 * Every document of a multi-document YAML (or JSON) file. A broken document is reported and the others still
 * evaluated; empty and comment-only documents (Helm output is full of them) are skipped.
 */
export function parseManifests(text: string): ManifestDocument[] {
  const out: ManifestDocument[] = [];
  // YAML 1.1 like sigs.k8s.io/yaml, so `yes` and `0755` mean what kubectl would make of them.
  parseAllDocuments(text, { prettyErrors: true, uniqueKeys: false, version: '1.1' }).forEach((doc, i) => {
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      const where = first.linePos ? `line ${first.linePos[0].line}` : `document ${i + 1}`;
      out.push({ index: i + 1, error: { code: 'MANIFEST_YAML', path: where, message: first.message.split('\n')[0] ?? first.message } });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (cause) {
      out.push({
        index: i + 1,
        error: { code: 'MANIFEST_YAML', path: `document ${i + 1}`, message: (cause as Error).message.split('\n')[0] ?? 'unreadable YAML' },
      });
      return;
    }
    if (value === null || value === undefined) return;
    for (const item of flattenLists([value])) out.push({ index: i + 1, value: item });
  });
  return out;
}
