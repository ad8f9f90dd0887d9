// A real browser: headless Chromium (playwright-core) opens the demo page from the demo's
// own static server on 127.0.0.1, pastes a fixture row, clicks Predict and must show the
// label the native runtime predicted. Also checks, inside the page, that Chromium's wasm
// engine gives the native bytes for every fixture row. Screenshot: target/artifacts/demo.png.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  ARTIFACTS,
  DIGITS_SRC,
  LABELS,
  ROOT,
  csvWithHeader,
  digitsDir,
  ensureFixtures,
  ensurePackage,
  expectedLabels,
  hexRows,
  inputLines,
  inputs,
} from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let server;
let baseUrl;
let context;
let profile;
let models;

/** Starts `serve.mjs` as a user would, on a free port; resolves with its URL. */
function startServer(fixtures, modelsDir) {
  return new Promise((ok, fail) => {
    const p = spawn(
      process.execPath,
      [
        join(ROOT, 'examples/browser/serve.mjs'),
        '--port', '0',
        '--pkg', ensurePackage(),
        '--model', join(fixtures, 'mlp_f32.fer'),
        '--models', modelsDir,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) ok({ process: p, url: line.trim() });
    });
    p.on('exit', (code) => fail(new Error(`serve.mjs exited with ${code}`)));
    p.on('error', fail);
  });
}

before(async () => {
  const fixtures = ensureFixtures();
  const require = createRequire(import.meta.url);
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch {
    assert.fail('playwright-core is not installed: run `npm ci` in bindings/wasm');
  }
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM)`);
  // Served at /models/: the fixture models, and the digits models when the tool made them.
  models = mkdtempSync(join(tmpdir(), 'ferrite-models-'));
  for (const f of ['mlp_f32.fer', 'mlp_int8.fer', 'mlp_int8_raw.fer']) copyFileSync(join(fixtures, f), join(models, f));
  const digits = digitsDir();
  if (digits) for (const f of ['digits_f32.fer', 'digits_int8.fer']) copyFileSync(join(digits, f), join(models, f));
  ({ process: server, url: baseUrl } = await startServer(fixtures, models));
  assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  profile = mkdtempSync(join(tmpdir(), 'ferrite-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1100, height: 900 },
  });
});

after(async () => {
  await context?.close();
  server?.kill();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (models) rmSync(models, { recursive: true, force: true });
});

/** A page that fails the test on any uncaught error or console error. */
async function openPage(path = '') {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()} (${m.location().url})`);
  });
  await page.goto(baseUrl + path);
  return { page, problems };
}

test('the server sends the .wasm as application/wasm', async () => {
  const r = await fetch(new URL('pkg/ferrite_wasm_bg.wasm', baseUrl));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/wasm');
  // Raw request paths (fetch would normalize the dots away before sending).
  const status = (path) =>
    new Promise((ok, fail) => {
      const u = new URL(baseUrl);
      get({ host: u.hostname, port: u.port, path }, (res) => {
        res.resume();
        ok(res.statusCode);
      }).on('error', fail);
    });
  assert.equal(await status('/pkg/ferrite_wasm_bg.wasm'), 200);
  assert.equal(await status('/pkg/../../../Cargo.toml'), 404);
  assert.equal(await status('/pkg/%2e%2e/%2e%2e/%2e%2e/Cargo.toml'), 404);
  assert.equal(await status('/../../Cargo.toml'), 404);
  assert.equal(await status('/models/..%2f..%2fCargo.toml'), 404);
  assert.equal(await status('/..%2f..%2fCargo.toml'), 404); // the repository's Cargo.toml exists there
  assert.equal(await status('/pkg/..%2f..%2f..%2fCargo.toml'), 404);
});

test('demo: paste a row, click Predict, see the native label and probability bars', async () => {
  const { page, problems } = await openPage();
  await page.locator('#status.ready').waitFor({ timeout: 20_000 });
  const want = LABELS[expectedLabels()[0].f32];
  await page.locator('#csv').fill(inputLines()[0].replaceAll(',', ', '));
  await page.locator('#predict').click();
  await page.locator('#prediction').filter({ hasText: want }).waitFor({ timeout: 5_000 });
  const text = await page.locator('#prediction').textContent();
  assert.ok(text.startsWith(want), `prediction text: ${text}`);
  assert.deepEqual(await page.locator('.bar .name').allTextContents(), LABELS);
  assert.equal(await page.locator('.bar.top').getAttribute('data-label'), want);
  assert.match(await page.locator('#timing').textContent(), /µs per prediction/);
  assert.match(await page.locator('#model-info').textContent(), /fixture-mlp-f32/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'demo.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('demo: an empty feature is rejected with the InputError shown, not a crash', async () => {
  const { page, problems } = await openPage();
  await page.locator('#status.ready').waitFor({ timeout: 20_000 });
  await page.locator('#f3').fill('');
  await page.locator('#predict').click();
  const err = await page.locator('#input-error').textContent();
  assert.match(err, /InputError \(InvalidInput, code 16\).*feature 3/);
  assert.equal(await page.locator('#prediction').textContent(), '—');
  assert.deepEqual(problems, []);
  await page.close();
});

test('demo: ?model= picks another model; a missing one shows the fetch error', async () => {
  const { page, problems } = await openPage('?model=models/mlp_int8.fer');
  await page.locator('#status.ready').waitFor({ timeout: 20_000 });
  assert.match(await page.locator('#model-info').textContent(), /fixture-mlp-int8/);
  await page.locator('#csv').fill(inputLines()[7]);
  await page.locator('#predict').click();
  const want = LABELS[expectedLabels()[7].int8];
  await page.locator('#prediction').filter({ hasText: want }).waitFor({ timeout: 5_000 });
  assert.deepEqual(problems, []);
  await page.close();

  const missing = await openPage('?model=models/nope.fer');
  await missing.page.locator('#status.failed').waitFor({ timeout: 20_000 });
  assert.match(await missing.page.locator('#status').textContent(), /FetchFailed.*404/);
  await missing.page.close();
});

test("Chromium's wasm engine reproduces the native bytes for every fixture row", async () => {
  const { page, problems } = await openPage();
  await page.locator('#status.ready').waitFor({ timeout: 20_000 });
  const rows = inputs().map((r) => Array.from(r));
  const rawRows = hexRows('raw_inputs.hex').map((r) => Array.from(r));
  const got = await page.evaluate(
    async ({ rows, rawRows }) => {
      const { Model } = await import('/pkg/index.js');
      const hex = (b) => Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
      const f32 = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      const out = {};
      for (const name of ['mlp_f32', 'mlp_int8']) {
        const m = await Model.load(fetch(`/models/${name}.fer`));
        out[name] = rows.map((r) => hex(f32(m.predict(r).scores)));
        out[`${name}_batch`] = m.predictBatch(rows).map((p) => hex(f32(p.scores)));
        m.free();
      }
      const raw = await Model.load(fetch('/models/mlp_int8_raw.fer'));
      out.mlp_int8_raw = rawRows.map((r) => hex(raw.runRaw(Uint8Array.from(r))));
      raw.free();
      return out;
    },
    { rows, rawRows },
  );
  const hexes = (name) => hexRows(name).map((b) => Buffer.from(b).toString('hex'));
  assert.deepEqual(got.mlp_f32, hexes('expected_f32.hex'));
  assert.deepEqual(got.mlp_f32_batch, hexes('expected_f32.hex'));
  assert.deepEqual(got.mlp_int8, hexes('expected_int8.hex'));
  assert.deepEqual(got.mlp_int8_batch, hexes('expected_int8.hex'));
  assert.deepEqual(got.mlp_int8_raw, hexes('expected_int8_raw.hex'));
  assert.deepEqual(problems, []);
  await page.close();
});

const noDigits = digitsDir() ? false : 'no digits models from the host tool';

test('demo with the digits model: the 8x8 pad, a pasted test row, a drawn stroke', { skip: noDigits }, async () => {
  const { page, problems } = await openPage('?model=models/digits_int8.fer');
  await page.locator('#status.ready').waitFor({ timeout: 20_000 });
  assert.ok(await page.locator('#pad').isVisible(), 'the 8x8 pad replaces the form for 64 features');
  assert.match(await page.locator('#model-info').textContent(), /(\d+)\/\1 vectors reproduced bit for bit/);
  const rows = csvWithHeader(join(DIGITS_SRC, 'test.csv'));
  const truth = readFileSync(join(DIGITS_SRC, 'test_labels.csv'), 'utf8').trim().split('\n').slice(1).map(Number);
  const native = csvWithHeader(join(digitsDir(), 'native_int8.csv'));
  const argmax = (a) => a.reduce((k, v, i) => (v > a[k] ? i : k), 0);
  // A test row the model gets right, with a label other than 0 so the check means something.
  const r = rows.findIndex((_, i) => truth[i] !== 0 && argmax(native[i]) === truth[i]);
  await page.locator('#csv').fill(Array.from(rows[r]).join(','));
  await page.locator('#prediction').filter({ hasText: String(truth[r]) }).waitFor({ timeout: 5_000 });
  assert.equal(await page.locator('.bar.top').getAttribute('data-label'), String(truth[r]));
  assert.equal(await page.locator('.bar').count(), 10);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'demo-digits.png'), fullPage: true });

  // Draw: clear, then a vertical stroke down the middle of the pad.
  await page.locator('#clear').click();
  assert.equal(await page.locator('#prediction').textContent(), '—');
  const box = await page.locator('#pad').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let k = 1; k <= 10; k++) await page.mouse.move(box.x + box.width / 2, box.y + box.height * (0.15 + 0.07 * k));
  await page.mouse.up();
  const text = await page.locator('#prediction').textContent();
  assert.match(text, /^[0-9] \(\d+\.\d%\)$/, `prediction after drawing: ${text}`);
  assert.deepEqual(problems, []);
  await page.close();
});
