// The FinalizationRegistry safety net: a Model that is dropped without free() releases
// its wasm memory once garbage-collected (checked in a child run with --expose-gc).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { HERE, ensureFixtures, ensurePackage } from './helpers.mjs';

test('models dropped without free() are freed by the FinalizationRegistry', () => {
  const model = join(ensureFixtures(), 'mlp_f32.fer');
  const r = spawnSync(process.execPath, ['--expose-gc', join(HERE, 'gc-child.mjs'), ensurePackage(), model], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const { frees, loaded } = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.ok(frees > 0 && frees <= loaded, `FinalizationRegistry freed ${frees} of ${loaded} dropped models`);
});

test('an explicitly freed model is not freed again by the registry', () => {
  const model = join(ensureFixtures(), 'mlp_f32.fer');
  const script = `
    import { readFileSync } from 'node:fs';
    const { Model } = await import(${JSON.stringify(new URL(`file://${join(ensurePackage(), 'index.js')}`).href)});
    const { RawModel } = await import(${JSON.stringify(new URL(`file://${join(ensurePackage(), 'ferrite_wasm.js')}`).href)});
    let frees = 0;
    const free = RawModel.prototype.free;
    RawModel.prototype.free = function () { frees++; return free.call(this); };
    await (async () => { for (let i = 0; i < 20; i++) (await Model.load(readFileSync(${JSON.stringify(model)}))).free(); })();
    for (let i = 0; i < 50; i++) { gc(); await new Promise((r) => setTimeout(r, 2)); }
    console.log(frees);
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Number(r.stdout.trim()), 20);
});
