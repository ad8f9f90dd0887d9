// The npm package folder: manifest, files, entry points, size budget.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { BUDGET } from '../build.mjs';
import { ensurePackage } from './helpers.mjs';

const PKG = ensurePackage();
const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));

// The size budget of the .wasm (a browser tab downloads it) is build.mjs's: one number,
// its history there.

test('package.json is an ESM package with types and an exports map', () => {
  assert.equal(manifest.name, 'ferrite-wasm');
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.types, './index.d.ts');
  assert.deepEqual(manifest.exports['.'], { types: './index.d.ts', default: './index.js' });
  assert.equal(manifest.sideEffects, false);
  assert.match(manifest.version, /^\d+\.\d+\.\d+/);
});

test('every file the manifest lists is in the folder', () => {
  for (const f of manifest.files) assert.ok(existsSync(join(PKG, f)), f);
  for (const target of Object.values(manifest.exports)) {
    const paths = typeof target === 'string' ? [target] : Object.values(target);
    for (const p of paths) assert.ok(existsSync(join(PKG, p)), p);
  }
});

test(`the .wasm is within budget (${BUDGET.raw} B raw, ${BUDGET.gzip} B gzip)`, () => {
  const wasm = readFileSync(join(PKG, 'ferrite_wasm_bg.wasm'));
  const gz = gzipSync(wasm, { level: 9 }).length;
  console.log(`ferrite_wasm_bg.wasm: ${wasm.length} B raw, ${gz} B gzip`);
  assert.ok(wasm.length <= BUDGET.raw, `raw ${wasm.length} > ${BUDGET.raw}`);
  assert.ok(gz <= BUDGET.gzip, `gzip ${gz} > ${BUDGET.gzip}`);
  assert.ok(WebAssembly.validate(wasm), 'valid WebAssembly');
});

test('the entry modules load in a browser: no static Node imports', () => {
  for (const f of ['index.js', 'ferrite_wasm.js']) {
    const src = readFileSync(join(PKG, f), 'utf8');
    assert.doesNotMatch(src, /^\s*import[^;]*from\s*['"](node:|fs|path)/m, f);
    assert.doesNotMatch(src, /\brequire\(/, f);
  }
});

test('the README ships in the package', () => {
  assert.match(readFileSync(join(PKG, 'README.md'), 'utf8'), /# ferrite-wasm/);
});
