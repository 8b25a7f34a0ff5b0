/**
 * report.html as a reviewer opens it: in a real (headless) Chromium, from a file, with no network. Skipped only when
 * Chromium is not installed (`apt-get install chromium`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateSigningKey } from '@agent-replay/format';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReports } from '../src/report.js';
import {
  oidcIdentities,
  readRecords,
  recordConfigSession,
  recordJanitorSession,
  reportCase,
  reportSession,
} from './report-sessions.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`report-chromium tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

describe.skipIf(!haveChromium)('report.html in headless Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'arec-evidence-chromium-'));
  let context: BrowserContext;
  let page: Page;
  let fileUrl = '';
  let denySeq = 0;
  let timelineRows = 0;
  const requests: string[] = [];
  const blocked: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    const { bob, expiredService } = await oidcIdentities();
    const config = await recordConfigSession(join(work, 'config'), generateSigningKey().privateKeyPem);
    const janitor = await recordJanitorSession(join(work, 'janitor'), bob, expiredService);
    denySeq = (await readRecords(config)).find((r) => r.type === 'policy.decision' && r.decision === 'deny')
      ?.seq as number;
    const { html } = await renderReports(
      reportCase([await reportSession(config), await reportSession(janitor)]),
    );
    const s1Timeline = html.slice(
      html.indexOf('<section id="s1-timeline"'),
      html.indexOf('id="s1-model-calls"'),
    );
    timelineRows = s1Timeline.match(/<tr data-seq=/g)?.length ?? 0;
    const file = join(work, 'report.html');
    writeFileSync(file, html);
    fileUrl = pathToFileURL(file).href;

    context = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // Every request the page makes is recorded; anything but the report itself is refused.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url === fileUrl) return route.continue();
      blocked.push(url);
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    await page.goto(fileUrl, { waitUntil: 'load' });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('loads from the file alone: no other request, no script, no CSP violation; its style applies', async () => {
    expect(requests).toEqual([fileUrl]);
    expect(blocked).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(await page.title()).toBe('Audit report — case INC-4711');
    expect(await page.locator('script, img, iframe, object, embed, link').count()).toBe(0);
    // The inline style is allowed by its hash: the verdict is green.
    const verdict = page.locator('#s1-verification .verdict');
    expect(await verdict.textContent()).toBe('VALID');
    expect(await verdict.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(17, 99, 41)');
    expect(await page.locator('#s2-verification .verdict').textContent()).toBe('VALID');
  });

  it('shows the timeline, the denial with its rule and reason, the approver, and hostile output as inert text', async () => {
    expect(timelineRows).toBeGreaterThan(15);
    expect(await page.locator('#s1-timeline tbody tr').count()).toBe(timelineRows);
    expect(await page.locator('#s1-timeline tr[data-kind="tool"]').count()).toBe(3);
    expect(await page.locator('#s1-timeline tr[data-kind="model"]').count()).toBe(4);
    const denyRow = page.locator(`#s1-timeline tr[data-seq="${denySeq}"]`);
    expect(await denyRow.textContent()).toContain('deny — staging-first: push to staging first');

    const deny = page.locator('#s1-decisions tr[data-decision="deny"]');
    expect(await deny.count()).toBe(1);
    const denyText = await deny.textContent();
    for (const text of [
      'push_config',
      'environment=production, file=payments.yaml',
      'staging-first',
      'push to staging first',
      'prod-guard v3',
      'engine: prod-guard',
    ]) {
      expect(denyText).toContain(text);
    }
    expect(
      await deny.evaluate((el) => getComputedStyle(el.querySelector('td') as Element).backgroundColor),
    ).toBe('rgb(255, 235, 233)');

    const rejected = await page.locator('#s2-decisions tr[data-decision="rejected"]').textContent();
    expect(rejected).toContain('never delete the database');
    expect(rejected).toContain('human: bob@example.com');
    expect(await page.locator('#s2-identities tr[data-role="approver"][data-verified="true"]').count()).toBe(
      2,
    );
    expect(await page.locator('#s2-identities tr[data-role="session"]').textContent()).toMatch(
      /svc-janitor[\s\S]*no \(as claimed, not proven\)[\s\S]*token expired/,
    );

    // The hostile tool output is text in its cell: markup shown, escapes visible, nothing interpreted.
    const output =
      (await page.locator('#s1-tool-calls tr[data-tool="fetch_page"] td').nth(4).textContent()) ?? '';
    expect(output).toContain('<script>alert(1)</script> </td></tr></table><img src=x onerror=alert(2)>');
    expect(output).toContain('\\u{1b}[31mRED');
    expect(output).toContain('invoice\\u{202e}fdp.exe');
    expect(output).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(await page.locator('#s1-tool-calls tbody tr').count()).toBe(3);
  });

  it('takes a full-page screenshot and prints: white page, no navigation, rows kept whole', async () => {
    const shot = join(work, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(statSync(shot).size).toBeGreaterThan(50_000);

    await page.emulateMedia({ media: 'print' });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(
      'rgb(255, 255, 255)',
    );
    expect(await page.locator('nav').evaluate((el) => getComputedStyle(el).display)).toBe('none');
    expect(
      await page
        .locator('#s1-timeline tbody tr')
        .first()
        .evaluate((el) => getComputedStyle(el).breakInside),
    ).toBe('avoid');
    const pdf = await page.pdf({ format: 'A4' });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(20_000);
    await page.emulateMedia({ media: 'screen' });
    expect(requests).toEqual([fileUrl]);
  });
});
