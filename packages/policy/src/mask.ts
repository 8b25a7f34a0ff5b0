/**
 * Output masking: values of listed fields (dotted paths into a JSON output) and matches of listed patterns in the
 * output text are replaced by `[MASKED:<mask id>]` before the model sees the output (and before it is recorded).
 */
import type { PolicyDocument } from './schema.js';

type Mask = PolicyDocument['masking'][number];

function maskFields(value: unknown, paths: readonly string[][], id: string): unknown {
  if (value === null || typeof value !== 'object') return value;
  const copy: unknown = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  for (const path of paths) {
    let node = copy as Record<string, unknown>;
    for (let i = 0; i < path.length; i++) {
      const key = path[i]!;
      if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) break;
      if (i === path.length - 1) {
        node[key] = `[MASKED:${id}]`;
      } else {
        const child = node[key];
        if (child === null || typeof child !== 'object') break;
        node[key] = Array.isArray(child) ? [...child] : { ...(child as Record<string, unknown>) };
        node = node[key] as Record<string, unknown>;
      }
    }
  }
  return copy;
}

/** The output with every mask applied: JSON text stays JSON text, objects stay objects. */
export function maskOutput(output: unknown, masks: readonly Mask[]): unknown {
  let value = output;
  for (const mask of masks) {
    const paths = (mask.fields ?? []).map((field) => field.split('.'));
    if (paths.length > 0) {
      if (typeof value === 'string') {
        try {
          value = JSON.stringify(maskFields(JSON.parse(value), paths, mask.id));
        } catch {
          // not JSON: fields do not apply, patterns below still do
        }
      } else {
        value = maskFields(value, paths, mask.id);
      }
    }
    for (const pattern of mask.patterns ?? []) {
      const regex = new RegExp(pattern, 'gu');
      value =
        typeof value === 'string'
          ? value.replace(regex, `[MASKED:${mask.id}]`)
          : JSON.parse(JSON.stringify(value ?? null).replace(regex, `[MASKED:${mask.id}]`));
    }
  }
  return value;
}
