import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { TEST_NETWORK } from '../support/invoker-fixtures.ts';
import { freePort, run, type Spawned } from '../support/process.ts';
import { call } from '../support/server.ts';
import { readGuestKey } from '../../common/guest-key.ts';

/** Where the screenshots go, for a person to look at (git-ignored). */
export const SCREENSHOTS = resolve('test-results', 'dashboard');

/**
 * The dashboard as a user meets it: `npm start`, then Debian's Chromium (headless, through
 * playwright-core) logs in with the guest key, sees the actions with their figures, invokes
 * from the form, sees that activation and one invoked elsewhere arrive live, and the charts
 * drawn. Screenshots of each step are written to SCREENSHOTS.
 */
describe('dashboard in Chromium (npm start)', function () {
  this.timeout(120_000);
  let dataDir: string;
  let server: Spawned | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let base: string;
  let api: string;
  let key: string;
  const problems: string[] = [];
  // (an invoker id of its own: an invoker removes, at start, the containers of its id)
  const invokerId = String(1000 + Math.floor(Math.random() * 9000));
  const shot = async (name: string) => {
    const path = join(SCREENSHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  };

  before(async function () {
    mkdirSync(SCREENSHOTS, { recursive: true });
    console.log(`      screenshots: ${SCREENSHOTS}`);
    dataDir = mkdtempSync(join(tmpdir(), 'swirl-e2e-dashboard-'));
    const port = await freePort();
    server = run('npm', ['start'], { SWIRL_DATA_DIR: dataDir, SWIRL_PORT: String(port), SWIRL_HOST: '127.0.0.1', SWIRL_INVOKER_ID: invokerId, SWIRL_DOCKER_NETWORK: TEST_NETWORK });
    [, api] = (await server.waitFor(/api: (\S+)/, 90_000)) as [string, string];
    base = api.replace(/\/api\/v1$/, '');
    key = readGuestKey(dataDir)!;
    const put = (name: string, code: string) => call('PUT', `${api}/namespaces/_/actions/${name}?overwrite=true`, { auth: key, body: { exec: { kind: 'nodejs:20', code } } });
    expect((await put('hello', 'function main(p) { console.log("greeting " + p.name); return { greeting: "hello " + p.name } }')).status).to.equal(200);
    expect((await put('fails', 'function main() { return { error: "it failed" } }')).status).to.equal(200);
    // figures to show: activations before the page opens
    for (const name of ['hello', 'hello', 'fails']) expect((await call('POST', `${api}/namespaces/_/actions/${name}?blocking=true`, { auth: key, body: { name: 'first' } })).status).to.be.oneOf([200, 502]);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
  });
  after(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
    await server?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the page with a Content-Security-Policy that allows its own scripts only', async () => {
    const res = await page.goto(`${base}/dashboard`);
    expect(res!.status()).to.equal(200);
    const csp = res!.headers()['content-security-policy'];
    expect(csp).to.contain("default-src 'self'").and.contain("script-src 'self'").and.contain("frame-ancestors 'none'");
    await page.locator('#login-form').waitFor();
    await shot('01-login');
  });

  it('refuses a wrong key with a message, and logs in with the right one (kept in sessionStorage only)', async () => {
    await page.fill('#key', `${key.split(':')[0]}:${'x'.repeat(64)}`);
    await page.click('#login-form button');
    await expectText(page, '#login-error', /not known/);
    await page.fill('#key', key);
    await page.click('#login-form button');
    await page.locator('#app').waitFor();
    expect(await page.evaluate(() => [sessionStorage.getItem('swirl.key'), localStorage.length])).to.deep.equal([key, 0]);
    await expectText(page, '#who', /namespace guest/);
  });

  it('shows the actions with invocations, error rate and p50/p99, and draws their charts', async () => {
    const row = (name: string) => page.locator(`#actions tr[data-action="${name}"]`);
    await row('hello').waitFor();
    expect((await row('hello').locator('td').allTextContents()).slice(0, 4)).to.deep.equal(['hello', 'nodejs:20', '2', '0%']);
    expect((await row('fails').locator('td').allTextContents()).slice(2, 4)).to.deep.equal(['1', '100%']);
    expect(Number(await row('hello').locator('td').nth(4).textContent())).to.be.at.least(0);
    // the busiest action is charted: bars of 2 invocations, p50/p99 points
    expect(await page.locator('#count-chart').getAttribute('data-drawn')).to.equal('2');
    expect(await page.locator('#count-chart rect.bar').count()).to.be.greaterThan(0);
    expect(await page.locator('#duration-chart circle.dot').count()).to.be.greaterThan(0);
    await row('fails').click();
    expect(await page.locator('#count-chart rect.bar.failed').count()).to.equal(1);
    await shot('02-actions');
    // the guest is no operator: no invokers panel
    expect(await page.locator('#invokers-panel').isHidden()).to.equal(true);
  });

  it('invokes from the form with parameters; the activation arrives live in the list, and one invoked elsewhere too', async () => {
    await expectText(page, '#live', /^live$/);
    await page.selectOption('#invoke-action', 'hello');
    await page.fill('#invoke-params', '{"name": "from the form"}');
    await page.click('#invoke-form button');
    await expectText(page, '#invoke-result', /hello from the form/);
    const id = /"activationId": "([0-9a-f]{32})"/.exec((await page.textContent('#invoke-result'))!)![1]!;
    // `new`: added by the stream (the list loaded at login has none of them)
    await page.locator(`#activations li.new[data-id="${id}"]`).waitFor({ timeout: 10_000 });

    const elsewhere = await call('POST', `${api}/namespaces/_/actions/fails`, { auth: key, body: {} });
    expect(elsewhere.status).to.equal(202);
    const item = page.locator(`#activations li.new[data-id="${elsewhere.body.activationId}"]`);
    await item.waitFor({ timeout: 10_000 });
    expect(await item.locator('.status').textContent()).to.equal('application error');
    await shot('03-live');

    await page.locator(`#activations li[data-id="${id}"]`).click();
    await expectText(page, `#activations li[data-id="${id}"] .logs`, /greeting from the form/);
    await shot('04-activation-details');
    // the figures follow the stream: hello now has 3 invocations
    await page.locator('#actions tr[data-action="hello"] td:nth-child(3)', { hasText: '3' }).waitFor({ timeout: 10_000 });
    await shot('05-figures-updated');
  });

  it("an operator's key (user create --admin) also shows the invokers: state, running, queued, containers and their states, memory", async () => {
    const admin = run('npm', ['run', '--silent', 'admin', '--', 'user', 'create', 'ops', '--admin'], { SWIRL_DATA_DIR: dataDir, SWIRL_LOG_LEVEL: 'silent' });
    expect(await admin.exited, admin.stderr()).to.equal(0);
    const opsKey = admin.stdout().trim().split('\n').at(-1)!;
    const ops = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    await ops.goto(`${base}/dashboard`);
    await ops.fill('#key', opsKey);
    await ops.click('#login-form button');
    await ops.locator('#invokers-panel').waitFor();
    const cells = await ops.locator('#invokers tbody tr').first().locator('td').allTextContents();
    expect(cells.slice(0, 2)).to.deep.equal([`invoker${invokerId}`, 'up']);
    expect(cells[6]).to.match(/^\d+ stem, \d+ warm, \d+ paused, \d+ busy/);
    expect(cells[7]).to.match(/^\d+ \/ \d+$/);
    await ops.screenshot({ path: join(SCREENSHOTS, '06-operator-invokers.png'), fullPage: true });
    await ops.close();
  });

  it('the page raised no errors (no script, CSP or network failure) but the refusals it asked for', () => {
    // the wrong key's 401, and the 403 of the invokers a non-operator may not see
    expect(problems.filter((p) => !/status of (401 \(Unauthorized\)|403 \(Forbidden\))/.test(p))).to.deep.equal([]);
  });
});

async function expectText(page: Page, selector: string, re: RegExp): Promise<void> {
  await page.waitForFunction(([s, source]) => new RegExp(source).test(document.querySelector(s)?.textContent ?? ''), [selector, re.source] as const, { timeout: 10_000 }).catch(async () => {
    throw new Error(`${selector} does not match ${re}: ${JSON.stringify(await page.textContent(selector).catch(() => null))}`);
  });
}
