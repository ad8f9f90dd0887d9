// ferrite browser demo: load a .fer model, enter features (a form, or an 8x8 drawing pad
// for 64-feature models such as the digits MLP), see the class probabilities as bars.
// No build step: the page imports the npm package folder served at ./pkg/.

import { Model, FerriteError, InputError, buildInfo } from './pkg/index.js';

const $ = (id) => document.getElementById(id);
const status = $('status');
let model = null;
let inputs = new Float32Array(0);
let mode = 'form';

function setStatus(text, cls = '') {
  status.textContent = text;
  status.className = cls;
}

function fmtBytes(n) {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`;
}

function describeError(e) {
  if (e instanceof FerriteError) return `${e.name} (${e.kind}, code ${e.code}): ${e.message}`;
  return String(e?.message ?? e);
}

// ------------------------------------------------------------------ model

async function load(source, name) {
  setStatus(`Loading ${name}…`);
  $('predict').disabled = true;
  $('random').disabled = true;
  let next;
  try {
    next = await Model.load(source);
  } catch (e) {
    setStatus(`Could not load ${name}: ${describeError(e)}`, 'failed');
    return;
  }
  model?.free();
  model = next;
  const { simd128, version } = buildInfo();
  $('build').textContent = `ferrite-wasm ${version}${simd128 ? ', SIMD' : ''}`;
  showInfo(name);
  buildInput();
  clearOutput();
  $('predict').disabled = false;
  $('random').disabled = false;
  setStatus(`Model ready: ${model.info.metadata.name || name}`, 'ready');
}

// The golden vectors the host tool stored: does this browser compute the same bytes?
function golden() {
  const n = model.info.numGolden;
  if (n === 0) return 'none stored';
  try {
    return `${model.checkGolden()}/${n} vectors reproduced bit for bit`;
  } catch (e) {
    return `MISMATCH: ${describeError(e)}`;
  }
}

function showInfo(name) {
  const { info } = model;
  const io = (t) => `${t.name}: ${t.dtype}[${t.shape.join('×')}]`;
  const rows = [
    ['name', info.metadata.name || name],
    ['version', info.metadata.version || '—'],
    ['input', info.inputs.map(io).join(', ')],
    ['output', info.outputs.map(io).join(', ')],
    ['labels', info.labels.length ? info.labels.join(', ') : '(none)'],
    ['producer', info.metadata.producer || '—'],
    ['file', fmtBytes(info.byteLength)],
    ['memory', `${fmtBytes(info.arenaSize)} arena, ${fmtBytes(info.parameterBytes)} weights`],
    ['golden', golden()],
  ];
  const dl = $('model-info');
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

// ------------------------------------------------------------------ input

function buildInput() {
  const n = model.inputLength;
  inputs = new Float32Array(n);
  mode = n === 64 ? 'canvas' : 'form';
  $('canvas-input').hidden = mode !== 'canvas';
  $('input-error').textContent = '';
  $('csv').value = '';
  const box = $('features');
  box.replaceChildren();
  box.hidden = mode !== 'form';
  if (mode === 'canvas') {
    drawPad();
    return;
  }
  if (n > 128) return; // paste a row instead of a wall of fields
  for (let i = 0; i < n; i++) {
    const label = document.createElement('label');
    label.textContent = `f${i}`;
    const input = document.createElement('input');
    input.type = 'number';
    input.step = 'any';
    input.value = '0';
    input.id = `f${i}`;
    input.addEventListener('input', readFields);
    label.append(input);
    box.append(label);
  }
}

function readFields() {
  for (let i = 0; i < inputs.length; i++) {
    const el = $(`f${i}`);
    if (el) inputs[i] = el.value.trim() === '' ? NaN : Number(el.value);
  }
}

function writeFields() {
  for (let i = 0; i < inputs.length; i++) {
    const el = $(`f${i}`);
    // 9 significant digits give the same f32 back when the field is read again.
    if (el) el.value = String(Number(inputs[i].toPrecision(9)));
  }
}

$('csv').addEventListener('input', () => {
  const text = $('csv').value.trim();
  if (!text) return;
  const values = text.split(/[\s,;]+/).filter(Boolean).map(Number);
  if (values.length !== inputs.length) {
    $('input-error').textContent = `expected ${inputs.length} values, got ${values.length}`;
    return;
  }
  $('input-error').textContent = '';
  inputs.set(values);
  if (mode === 'canvas') {
    drawPad();
    predict();
  } else {
    writeFields();
  }
});

// The 8x8 pad: values in [0, 1] (pixel / 16 as in scikit-learn's digits).
const pad = $('pad');
const ctx = pad.getContext('2d');

function drawPad() {
  const c = pad.width / 8;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, pad.width, pad.height);
  for (let i = 0; i < 64; i++) {
    const v = Math.max(0, Math.min(1, inputs[i]));
    const g = Math.round(255 * (1 - v));
    ctx.fillStyle = `rgb(${g},${g},${g})`;
    ctx.fillRect((i % 8) * c, Math.floor(i / 8) * c, c, c);
  }
  ctx.strokeStyle = '#e3e6ec';
  for (let k = 1; k < 8; k++) {
    ctx.beginPath();
    ctx.moveTo(k * c, 0);
    ctx.lineTo(k * c, pad.height);
    ctx.moveTo(0, k * c);
    ctx.lineTo(pad.width, k * c);
    ctx.stroke();
  }
}

function paint(ev) {
  const r = pad.getBoundingClientRect();
  const x = ((ev.clientX - r.left) / r.width) * 8;
  const y = ((ev.clientY - r.top) / r.height) * 8;
  const erase = ev.shiftKey || ev.buttons === 2;
  for (let j = 0; j < 8; j++) {
    for (let i = 0; i < 8; i++) {
      const d = Math.hypot(i + 0.5 - x, j + 0.5 - y);
      const amount = Math.max(0, 1 - d / 1.1) * 0.6;
      const k = j * 8 + i;
      inputs[k] = Math.max(0, Math.min(1, inputs[k] + (erase ? -amount : amount)));
    }
  }
  drawPad();
  predict();
}

pad.addEventListener('pointerdown', (ev) => {
  pad.setPointerCapture(ev.pointerId);
  paint(ev);
});
pad.addEventListener('pointermove', (ev) => {
  if (ev.buttons) paint(ev);
});
pad.addEventListener('contextmenu', (ev) => ev.preventDefault());
$('clear').addEventListener('click', () => {
  inputs.fill(0);
  drawPad();
  clearOutput();
});

$('random').addEventListener('click', () => {
  for (let i = 0; i < inputs.length; i++) {
    inputs[i] = mode === 'canvas' ? Math.round(Math.random() * 16) / 16 : Math.round((Math.random() * 2 - 1) * 1000) / 1000;
  }
  if (mode === 'canvas') drawPad();
  else writeFields();
  predict();
});

// ------------------------------------------------------------------ output

function clearOutput() {
  $('prediction').textContent = '—';
  $('bars').replaceChildren();
  $('timing').textContent = '';
}

function predict() {
  if (!model) return;
  if (mode === 'form') readFields();
  $('input-error').textContent = '';
  let p;
  try {
    p = model.predict(inputs);
  } catch (e) {
    $('input-error').textContent = describeError(e);
    if (!(e instanceof InputError)) console.error(e);
    clearOutput();
    return;
  }
  // Latency: timers are coarse in a page (~0.1 ms), so time a burst of predictions.
  let runs = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < 15 && runs < 100_000) {
    for (let i = 0; i < 50; i++) model.predict(inputs);
    runs += 50;
    elapsed = performance.now() - t0;
  }
  showPrediction(p, elapsed / runs, runs);
}

function showPrediction(p, ms, runs) {
  const { labels } = model;
  const out = $('prediction');
  if (p.label === null) {
    out.textContent = `value: ${p.scores[0].toPrecision(6)}`;
  } else {
    const name = p.labelName ?? `class ${p.label}`;
    out.replaceChildren(document.createTextNode(name + ' '));
    const small = document.createElement('small');
    small.textContent = `(${(p.scores[p.label] * 100).toFixed(1)}%)`;
    out.append(small);
  }
  const scores = Array.from(p.scores);
  const probabilities = scores.every((s) => s >= 0 && s <= 1.0001);
  const scale = probabilities ? 1 : Math.max(...scores.map(Math.abs), 1e-12);
  const bars = $('bars');
  bars.replaceChildren();
  scores.forEach((s, i) => {
    const row = document.createElement('div');
    row.className = 'bar' + (i === p.label ? ' top' : '');
    row.dataset.label = labels[i] ?? String(i);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = labels[i] ?? `class ${i}`;
    const track = document.createElement('div');
    track.className = 'track';
    const fill = document.createElement('div');
    fill.className = 'fill';
    fill.style.width = `${Math.max(0, (Math.abs(s) / scale) * 100).toFixed(2)}%`;
    track.append(fill);
    const value = document.createElement('span');
    value.className = 'value';
    value.textContent = probabilities ? `${(s * 100).toFixed(1)}%` : s.toPrecision(4);
    row.append(name, track, value);
    bars.append(row);
  });
  $('timing').textContent = `${(ms * 1000).toFixed(2)} µs per prediction (mean of ${runs} in this tab)`;
}

$('predict').addEventListener('click', predict);

// ------------------------------------------------------------------ start

$('model-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const url = $('model-url').value.trim() || 'model.fer';
  load(fetch(url), url);
});
$('model-file').addEventListener('change', () => {
  const f = $('model-file').files[0];
  if (f) load(f, f.name);
});

const initial = new URLSearchParams(location.search).get('model') ?? 'model.fer';
$('model-url').value = initial;
load(fetch(initial), initial);
