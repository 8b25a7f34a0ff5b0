import { openCatalog, syncCatalog } from '../catalog-access.js';
import { count } from '../display.js';
import { escapeForTerminal, sanitize, styleFor } from '../terminal.js';

export interface IndexCommandOptions {
  rebuild?: boolean;
  json?: boolean;
}

/** Brings the catalog up to date (or rebuilds it) and says what that took. */
export async function indexCommand(dir: string, options: IndexCommandOptions): Promise<number> {
  const catalog = openCatalog(dir);
  const started = performance.now();
  try {
    const report = await syncCatalog(catalog, { rebuild: options.rebuild === true });
    const seconds = (performance.now() - started) / 1000;
    if (options.json) {
      process.stdout.write(
        `${escapeForTerminal(JSON.stringify({ catalog: catalog.path, seconds, ...report }, null, 2))}\n`,
      );
    } else {
      const style = styleFor(process.stdout);
      process.stdout.write(
        `${style.bold(sanitize(catalog.path))}: ${count(report.files)} session file${report.files === 1 ? '' : 's'}; ` +
          `indexed ${count(report.indexed)} (${count(report.records)} records, ${count(report.documents)} searchable), ` +
          `${count(report.unchanged)} unchanged, ${count(report.removed)} removed` +
          `${report.concurrent ? `, ${count(report.concurrent)} by another process` : ''} in ${seconds.toFixed(2)} s\n`,
      );
    }
    return report.failures.length > 0 ? 1 : 0;
  } finally {
    catalog.close();
  }
}
