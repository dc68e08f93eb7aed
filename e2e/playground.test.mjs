// The playground at / in a real browser: Debian's Chromium, driven by playwright-core.
// Needs CS_URL, the base URL of a service in embedded mode that serves GraphiQL's
// bundles itself (PLAYGROUND_ASSETS_DIR); CS_DEV_KEY, the development key it printed,
// is checked when given. bash e2e/run.sh starts such a service and sets both.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const base = process.env.CS_URL;
const devKey = process.env.CS_DEV_KEY;
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

test('GraphiQL at / runs the default list query, loading nothing from outside 127.0.0.1', {
  skip: base ? false : 'CS_URL is not set: run bash e2e/run.sh',
  timeout: 120_000,
}, async () => {
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
    const problems = [];
    const page = context.pages()[0] ?? await context.newPage();
    page.on('websocket', (ws) => noteURL(ws.url()));
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
    await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 30_000 });

    // The default editor content holds the example operations...
    const query = await editorText(page, '.graphiql-query-editor');
    for (const op of ['query ListSessions', 'query ReadSession', 'mutation CreateSession']) {
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
    await page.screenshot({ path: join(artifacts, 'playground.png') });

    // The explorer plugin lists the schema's root fields.
    await page.getByRole('button', { name: 'Show GraphiQL Explorer' }).click();
    await page.locator('.graphiql-explorer-root').getByText('connectSessions', { exact: true }).first()
      .waitFor({ timeout: 10_000 });

    assert.deepEqual(foreign, [], 'the page requested resources outside 127.0.0.1');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
});
