// Run by gc.test.mjs under `node --expose-gc`: models dropped without free() are freed
// by the package's FinalizationRegistry. Prints the number of frees it saw.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [pkg, model] = process.argv.slice(2);
const { Model } = await import(pathToFileURL(join(pkg, 'index.js')).href);
const { RawModel } = await import(pathToFileURL(join(pkg, 'ferrite_wasm.js')).href);
let frees = 0;
const free = RawModel.prototype.free;
RawModel.prototype.free = function () {
  frees++;
  return free.call(this);
};
const bytes = readFileSync(model);
const N = 50;
await (async () => {
  for (let i = 0; i < N; i++) (await Model.load(bytes)).predict(new Float32Array(16));
})();
for (let i = 0; i < 200 && frees < N; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 5));
}
console.log(JSON.stringify({ frees, loaded: N }));
