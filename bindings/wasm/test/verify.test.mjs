// Model.loadVerified: a model signed by the host tool (`ferrite sign`) loads with the right
// key and predicts what the native runtime does; every refusal is a SignatureError with its
// own code and kind.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureSigned, f32Bytes, fixtureBytes, hex, hexRows, importPackage, inputs } from './helpers.mjs';

const signed = ensureSigned();
const skip = signed === null ? 'the host tool could not sign the fixture' : false;
const pkg = await importPackage();
const { Model, FerriteError, InvalidModelError, InputError, SignatureError, ErrorCode } = pkg;
const file = (name) => new Uint8Array(readFileSync(join(signed, name)));

async function refused(promise, kind, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof SignatureError, `expected SignatureError, got ${e?.constructor?.name}: ${e?.message}`);
    assert.ok(e instanceof InvalidModelError && e instanceof FerriteError);
    assert.equal(e.name, 'SignatureError');
    assert.equal(e.kind, kind);
    assert.equal(e.code, code);
    assert.equal(ErrorCode[kind], code);
    return true;
  });
}

test('the right key loads a signed model that predicts like the native runtime', { skip }, async () => {
  const key = file('release.pub');
  const m = await Model.loadVerified(file('signed.fer'), [key]);
  const want = hexRows('expected_f32.hex');
  inputs().forEach((row, r) => assert.equal(hex(f32Bytes(m.predict(row).scores)), hex(want[r]), `row ${r}`));
  assert.deepEqual(Array.from(m.signature.keyId), Array.from(key.subarray(0, 8)));
  assert.equal(m.signature.modelVersion, 7n);
  m.free();
  // Key rotation (a second trusted key), an ArrayBuffer key, the minimum equal to the version.
  const both = await Model.loadVerified(file('signed.fer'), [file('other.pub'), key.slice().buffer], 7);
  both.free();
  const big = await Model.loadVerified(file('signed.fer'), [key], 7n);
  big.free();
  const plain = await Model.load(fixtureBytes('mlp_f32.fer'));
  assert.equal(plain.signature, undefined);
  plain.free();
});

test('a wrong key is UnknownKey', { skip }, async () => {
  await refused(Model.loadVerified(file('signed.fer'), [file('other.pub')]), 'UnknownKey', 23);
  await refused(Model.loadVerified(file('signed.fer'), []), 'UnknownKey', 23);
});

test('one flipped byte in the weights is BadSignature', { skip }, async () => {
  const bytes = file('signed.fer');
  // The middle of the file lies in the weights, most of an MLP's bytes; unverified the
  // flip fails the CRC, so it is inside the checked body.
  bytes[bytes.length >> 1] ^= 0x10;
  await refused(Model.loadVerified(bytes, [file('release.pub')]), 'BadSignature', 18);
  await assert.rejects(Model.load(bytes), (e) => e instanceof InvalidModelError && e.kind === 'Checksum');
});

test('an unsigned model is Unsigned when verification is required', { skip }, async () => {
  await refused(Model.loadVerified(fixtureBytes('mlp_f32.fer'), [file('release.pub')]), 'Unsigned', 22);
});

test('a version below the minimum is VersionTooOld', { skip }, async () => {
  await assert.rejects(Model.loadVerified(file('signed.fer'), [file('release.pub')], 8), (e) => {
    assert.ok(e instanceof SignatureError);
    assert.equal(e.kind, 'VersionTooOld');
    assert.equal(e.code, 24);
    assert.equal(e.version, 7);
    assert.equal(e.minVersion, 8);
    return true;
  });
});

test('bad keys and versions are InputErrors', { skip }, async () => {
  const signedBytes = file('signed.fer');
  for (const [keys, min] of [[[new Uint8Array(31)], 0], [file('release.pub'), 0], ['abc', 0], [[file('release.pub')], -1], [[file('release.pub')], 1.5]]) {
    await assert.rejects(Model.loadVerified(signedBytes, keys, min), (e) => e instanceof InputError && e.code === ErrorCode.InvalidArgument);
  }
});
