/** The environment variables by which Ink (is-in-ci) and chalk (supports-color) conclude that they run in CI. */
const CI_VARIABLES = ['CI', 'CONTINUOUS_INTEGRATION'] as const;

/**
 * Loads the TUI as one bundled module (scripts/bundle-tui.mjs): Ink loads ~4× faster that way. Same API as
 * tui/run.ts.
 *
 * Ink and chalk decide when they are imported whether a person is watching: with `CI` set, Ink draws nothing until
 * the app exits and chalk drops all colours. The TUI starts only on a terminal (its callers check), where a person
 * is watching even in a CI job's debug shell or under a test runner, so those variables are hidden while it loads.
 */
export async function loadTui(): Promise<typeof import('./tui/run.js')> {
  const saved = CI_VARIABLES.map((name) => [name, process.env[name]] as const);
  for (const [name] of saved) delete process.env[name];
  try {
    return (await import(new URL('./tui/bundle.js', import.meta.url).href)) as typeof import('./tui/run.js');
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}
