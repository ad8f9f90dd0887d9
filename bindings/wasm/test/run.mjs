#!/usr/bin/env node
// Runs every JS suite of ferrite-wasm against the built package.
//
//   node bindings/wasm/test/run.mjs [--build] [--no-browser] [--no-digits]
//
// --build       build the package first (node bindings/wasm/build.mjs $FERRITE_WASM_PKG)
// --no-browser  skip the Chromium suite (browser.test.mjs)
// --no-digits   do not convert examples/digits with the host tool: the digits tests
//               skip (same as FERRITE_DIGITS=none; FERRITE_DIGITS=DIR uses a ready set)
//
// Regenerates the fixtures (cargo run -p ferrite --example fixtures, i.e. the current
// native runtime's outputs) before the suites start, so they are never stale and parallel
// test files never race on them; unless FERRITE_FIXTURES points at a ready set.
// Exit status: node --test's.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HERE, PKG, ensureDigits, ensureFixtures, ensurePackage } from './helpers.mjs';

const args = process.argv.slice(2);
for (const a of args) {
  if (!['--build', '--no-browser', '--no-digits'].includes(a)) {
    console.error(`unknown option ${a} (use --build, --no-browser, --no-digits)`);
    process.exit(2);
  }
}
if (args.includes('--build')) {
  const r = spawnSync(process.execPath, [join(HERE, '..', 'build.mjs'), PKG], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
ensurePackage();
const fixtures = ensureFixtures({ fresh: process.env.FERRITE_FIXTURES === undefined });
// The digits models come from the host tool: optional, the digits tests skip without them.
const digits = process.env.FERRITE_DIGITS ?? (args.includes('--no-digits') ? 'none' : (ensureDigits() ?? 'none'));
const files = readdirSync(HERE)
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => !(args.includes('--no-browser') && f === 'browser.test.mjs'))
  .sort()
  .map((f) => join(HERE, f));
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: {
    ...process.env,
    FERRITE_WASM_PKG: PKG,
    FERRITE_FIXTURES: fixtures,
    FERRITE_DIGITS: digits,
  },
});
process.exit(r.status ?? 1);
