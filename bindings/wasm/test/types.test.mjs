// TypeScript: the package's .d.ts (generated from Rust + the wrapper's) type-check under
// `tsc --strict` with a small consumer, which is then compiled and run. The README's
// Node example runs too. Both import the package by name through a node_modules link,
// so package.json's "exports"/"types" are exercised as a user's project would.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HERE, LABELS, ensureFixtures, ensurePackage, expectedLabels } from './helpers.mjs';

const TSC = join(HERE, '..', 'node_modules', 'typescript', 'bin', 'tsc');

function project() {
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-wasm-ts-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ensurePackage(), join(dir, 'node_modules', 'ferrite-wasm'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  return dir;
}

test('tsc --strict type-checks a consumer against the package, and it runs', (t) => {
  assert.ok(existsSync(TSC), `typescript is not installed: run \`npm ci\` in bindings/wasm (${TSC})`);
  const dir = project();
  copyFileSync(join(HERE, 'consumer.ts'), join(dir, 'consumer.ts'));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM'],
        types: [],
        skipLibCheck: false,
        noEmitOnError: true,
        outDir: 'out',
      },
      files: ['consumer.ts', 'node.d.ts'],
    }),
  );
  // Minimal Node declarations (no @types/node dependency) for the consumer's own use.
  writeFileSync(
    join(dir, 'node.d.ts'),
    `declare module 'node:fs/promises' { export function readFile(p: string): Promise<Uint8Array>; }
     declare const process: { argv: string[] };\n`,
  );
  const tsc = spawnSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });
  assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  const fx = ensureFixtures();
  const want = LABELS[expectedLabels()[0].f32];
  const run = spawnSync(
    process.execPath,
    [join(dir, 'out', 'consumer.js'), join(fx, 'mlp_f32.fer'), join(fx, 'inputs.csv'), want],
    { encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.deepEqual(out.shape, [1, 16]);
  assert.equal(out.scores.length, 4);
  assert.equal(out.batch, 2);
  assert.equal(out.raw, 16);
  assert.equal(out.simd, true);
  assert.equal(out.name, want);
});

test('tsc rejects a consumer that misuses the API', () => {
  const dir = project();
  writeFileSync(
    join(dir, 'bad.ts'),
    `import { Model } from 'ferrite-wasm';
     const m = await Model.load(new Uint8Array(0));
     const label: string = m.predict([1, 2]).label;\n`,
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', lib: ['ES2022', 'DOM'], types: [], noEmit: true },
      files: ['bad.ts'],
    }),
  );
  const tsc = spawnSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });
  assert.notEqual(tsc.status, 0, 'tsc accepted `const label: string = prediction.label`');
  assert.match(tsc.stdout, /TS2322/);
});

test("the README's Node example runs as written", () => {
  const readme = readFileSync(join(HERE, '..', 'README.md'), 'utf8');
  const block = readme.match(/<!-- example: node -->\s*```js\n([\s\S]*?)```/);
  assert.ok(block, 'README.md has a `<!-- example: node -->` js block');
  const dir = project();
  const fx = ensureFixtures();
  copyFileSync(join(fx, 'mlp_f32.fer'), join(dir, 'model.fer'));
  writeFileSync(join(dir, 'example.mjs'), block[1]);
  const run = spawnSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, new RegExp(LABELS.join('|')));
});
