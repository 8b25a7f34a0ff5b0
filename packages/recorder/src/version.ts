import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const pkg = require('../package.json') as { name: string; version: string };

export const RECORDER_NAME: string = pkg.name;
export const RECORDER_VERSION: string = pkg.version;

/** Walks up from a resolved entry point to the package.json that names `name` (exports maps hide it from require). */
function versionNear(entry: string, name: string): string | null {
  let dir = dirname(entry);
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === name) return typeof manifest.version === 'string' ? manifest.version : null;
    } catch {
      // Not the package root yet.
    }
  }
  return null;
}

let sdkVersions: Record<string, string | null> | undefined;

/** Versions of the Agents SDK packages this process resolves (null when one cannot be found); computed once. */
export function agentsSdkVersions(): Record<string, string | null> {
  if (sdkVersions) return sdkVersions;
  sdkVersions = { '@openai/agents': null, '@openai/agents-core': null };
  try {
    const agents = require.resolve('@openai/agents');
    sdkVersions['@openai/agents'] = versionNear(agents, '@openai/agents');
    sdkVersions['@openai/agents-core'] = versionNear(
      createRequire(agents).resolve('@openai/agents-core'),
      '@openai/agents-core',
    );
  } catch {
    // Not resolvable from here (a bundled app): the versions stay unknown.
  }
  return sdkVersions;
}
