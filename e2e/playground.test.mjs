// The playground at / in a real browser: Debian's Chromium, driven by playwright-core,
// with every request to a host other than 127.0.0.1 recorded and blocked, as on a
// machine without internet access. bash e2e/run.sh starts the services and sets:
//   CS_URL, CS_DEV_KEY                  embedded mode serving GraphiQL's bundles from
//                                       PLAYGROUND_ASSETS_DIR, and the key it printed
//   CS_OFFLINE_URL, CS_OFFLINE_DEV_KEY  a plain start from the repository root after
//                                       web/ was prepared (README's offline steps)
//   CS_CDN_URL                          a plain start outside the repository (CDN)
// A test whose URL is not set is skipped; a key is checked when given.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));

// Root in a closed network: no sandbox, and none of Chromium's own background
// connections, which would only be refused.
const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// The sessions that embedded mode seeds in organization 1, project "demo".
const demoOwners = ['Acme Corp', 'Globex', 'Initech'];

// graphiql-explorer 0.9 logs this for any list literal in the query (the example
// mutation's `categories: [HRIS]`); the explorer works regardless.
const knownConsoleErrors = [/^arg mismatch between arg and selection/];

/** The text of the CodeMirror editor inside the element matching selector. */
function editorText(page, selector) {
  return page.$eval(`${selector} .CodeMirror`, (el) => el.CodeMirror.getValue());
}

/**
 * A fresh Chromium context in which requests to hosts other than 127.0.0.1 are recorded
 * in foreign and aborted. Closed (and its profile removed) when use resolves.
 */
async function withBrowser(use) {
  const profile = await mkdtemp(join(tmpdir(), 'cs-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true, args: chromiumArgs, viewport: { width: 1400, height: 900 },
  });
  try {
    const isLocal = (url) => {
      const u = new URL(url);
      return ['data:', 'blob:', 'about:'].includes(u.protocol) || u.hostname === '127.0.0.1';
    };
    const foreign = [];
    const noteURL = (url) => { if (!isLocal(url)) foreign.push(url); };
    context.on('request', (req) => noteURL(req.url()));
    // Recorded above; blocked here, so that a page gone wrong sends nothing outside.
    await context.route('**/*', (route) => (isLocal(route.request().url()) ? route.continue() : route.abort()));
    const page = context.pages()[0] ?? await context.newPage();
    page.on('websocket', (ws) => noteURL(ws.url()));
    await use({ page, foreign });
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/**
 * Opens GraphiQL at base, checks the example operations and the filled-in Headers tab,
 * runs ListSessions with the run button, checks the result and the explorer, and that
 * the page loaded its six bundles from base/assets/ and nothing from outside 127.0.0.1.
 */
async function runsListSessionsOffline(base, devKey, screenshot) {
  await withBrowser(async ({ page, foreign }) => {
    const problems = [];
    const bundles = [];
    page.on('request', (req) => {
      if (['script', 'stylesheet'].includes(req.resourceType())) bundles.push(req.url());
    });
    page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !knownConsoleErrors.some((re) => re.test(msg.text()))) {
        problems.push(`console error: ${msg.text()}`);
      }
    });
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));

    const resp = await page.goto(`${base}/`);
    assert.equal(resp.status(), 200);
    // Every script and style sheet has been requested once the page has loaded.
    assert.deepEqual(foreign, [], 'the page requested resources outside 127.0.0.1');
    assert.equal(bundles.length, 6, `bundles: ${bundles.join(', ')}`);
    for (const url of bundles) assert.ok(url.startsWith(`${base}/assets/`), `a bundle not from ${base}/assets/: ${url}`);
    await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 30_000 });

    // The default editor content holds the example operations...
    const query = await editorText(page, '.graphiql-query-editor');
    for (const op of ['query ListSessions', 'query ReadSession', 'mutation CreateSession', 'query RecentEvents']) {
      assert.ok(query.includes(op), `default query lacks ${op}:\n${query}`);
    }
    // ...and the Headers tab, shown open, the development key.
    const headers = await editorText(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)');
    const auth = JSON.parse(headers).Authorization;
    assert.match(auth, /^Bearer csk_/);
    if (devKey) assert.equal(auth, `Bearer ${devKey}`);

    // Run: with several operations the button asks which one.
    await page.getByRole('button', { name: 'Execute query (Ctrl-Enter)' }).click();
    await page.getByRole('menuitem', { name: 'ListSessions' }).click();
    await page.waitForFunction(
      () => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue().includes('"connectSessions"'),
      null, { timeout: 30_000 });
    const result = JSON.parse(await editorText(page, '.result-window'));
    assert.equal(result.errors, undefined, `errors: ${JSON.stringify(result.errors)}`);
    const owners = result.data.connectSessions.nodes.map((n) => n.originOwnerName);
    assert.deepEqual([...owners].sort(), [...demoOwners].sort());
    // What a person sees, not only the editor's model.
    const shown = await page.locator('.result-window').innerText();
    assert.ok(demoOwners.some((o) => shown.includes(o)), `result pane shows no demo session:\n${shown}`);

    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, screenshot) });

    // The explorer plugin lists the schema's root fields.
    await page.getByRole('button', { name: 'Show GraphiQL Explorer' }).click();
    await page.locator('.graphiql-explorer-root').getByText('connectSessions', { exact: true }).first()
      .waitFor({ timeout: 10_000 });

    assert.deepEqual(foreign, [], 'the page requested resources outside 127.0.0.1');
    assert.deepEqual(problems, []);
  });
}

test('GraphiQL with PLAYGROUND_ASSETS_DIR runs ListSessions, loading nothing from outside 127.0.0.1', {
  skip: process.env.CS_URL ? false : 'CS_URL is not set: run bash e2e/run.sh',
  timeout: 120_000,
}, () => runsListSessionsOffline(process.env.CS_URL, process.env.CS_DEV_KEY, 'playground.png'));

test('a plain start from the repository root with web/ prepared serves GraphiQL offline: ListSessions runs', {
  skip: process.env.CS_OFFLINE_URL ? false : 'CS_OFFLINE_URL is not set: run bash e2e/run.sh',
  timeout: 120_000,
}, () => runsListSessionsOffline(process.env.CS_OFFLINE_URL, process.env.CS_OFFLINE_DEV_KEY, 'playground-web-dist.png'));

test('offline, a page on the CDN says which commands make the server serve GraphiQL itself', {
  skip: process.env.CS_CDN_URL ? false : 'CS_CDN_URL is not set: run bash e2e/run.sh',
  timeout: 60_000,
}, async () => {
  const base = process.env.CS_CDN_URL;
  await withBrowser(async ({ page, foreign }) => {
    const resp = await page.goto(`${base}/`);
    assert.equal(resp.status(), 200);
    // It tried the CDN (blocked here, as without internet access)...
    assert.ok(foreign.some((url) => url.startsWith('https://cdn.jsdelivr.net/npm/')), `requests: ${foreign.join(', ')}`);
    // ...and shows, instead of a blank page, what to run.
    const notice = page.locator('#graphiql .loading');
    await notice.filter({ hasText: 'could not load its scripts' }).waitFor({ timeout: 10_000 });
    const text = await notice.innerText();
    for (const want of ['npm ci --prefix web && npm run copy --prefix web', 'go run .', 'web/dist', 'PLAYGROUND_ASSETS_DIR']) {
      assert.ok(text.includes(want), `the notice lacks ${want}:\n${text}`);
    }
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'playground-cdn-offline.png') });
  });
});
