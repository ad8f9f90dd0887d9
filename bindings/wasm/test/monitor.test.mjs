// Drift monitoring through the JS API: monitor.fer (runtime/examples/fixtures.rs) has a
// baseline of 400 rows uniform on [0, 1) in 4 bins per feature. Uniform rows stay stable;
// feature 0 shifted by one standard deviation (0.29) is flagged, feature 1 is not.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureFixtures, fixtureBytes, importPackage } from './helpers.mjs';

ensureFixtures();
const { Model } = await importPackage();

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) / 16777216;
  };
}

test('a shifted feature is flagged, the others stay stable', async () => {
  const model = await Model.load(fixtureBytes('monitor.fer'));
  assert.throws(() => model.driftReport(), { kind: 'NoBaseline' });
  model.enableMonitor({ window: 0 });
  const u = lcg(7);
  for (let r = 0; r < 2000; r++) model.predict([u(), u()]);
  let rep = model.driftReport();
  assert.equal(rep.rows, 2000);
  assert.deepEqual(rep.features.map((f) => f.name), ['a', 'b']);
  assert.deepEqual(rep.features.map((f) => f.index), [0, 1]);
  assert.deepEqual(Object.keys(rep.features[0]),
    ['index', 'name', 'rows', 'psi', 'pValue', 'level', 'flagged', 'missing', 'outOfRange']);
  assert.equal(rep.features[0].missing, 0);
  for (const f of rep.features) {
    assert.ok(f.psi < 0.1 && !f.flagged && f.level === 'stable', JSON.stringify(f));
  }
  assert.equal(rep.output.rows, 2000);
  assert.equal(rep.latency.count, 2000);
  assert.equal(rep.latency.clockHz, 1_000_000);

  model.resetMonitor();
  for (let r = 0; r < 2000; r++) model.predict([u() + 0.29, u()]);
  rep = model.driftReport();
  assert.ok(rep.features[0].flagged && rep.features[0].psi > 0.25, JSON.stringify(rep.features[0]));
  assert.equal(rep.features[0].level, 'shifted');
  assert.ok(rep.features[0].outOfRange > 400);
  assert.ok(rep.features[0].pValue < 1e-6);
  assert.ok(!rep.features[1].flagged && rep.features[1].psi < 0.1);
  // More rows predicted 'first' than in the baseline: the output moved as well.
  assert.ok(rep.output.psi > 0.1, JSON.stringify(rep.output));

  const snap = model.monitorSnapshot();
  assert.ok(snap instanceof Uint8Array && snap.length > 20 && snap.length < 1000, `${snap.length}`);
  model.free();
});

test('a model without a baseline cannot be monitored', async () => {
  const model = await Model.load(fixtureBytes('mlp_f32.fer'));
  assert.throws(() => model.enableMonitor(), { kind: 'NoBaseline' });
  assert.throws(() => model.enableMonitor({ window: -1 }), { kind: 'InvalidArgument' });
  model.free();
});
