#!/usr/bin/env node
// A tiny static server for the ferrite browser demo (no dependencies).
//
//   node examples/browser/serve.mjs [--port 8080] [--host 127.0.0.1] [--pkg DIR] [--model FILE]
//                                   [--models DIR]
//
//   /            this folder (index.html, app.js, style.css)
//   /pkg/...     the built npm package (default: <repo>/target/wasm/pkg, from
//                `node bindings/wasm/build.mjs`)
//   /model.fer   FILE given with --model (default: ./model.fer in this folder, if any)
//   /models/...  DIR given with --models (open `/?model=models/NAME.fer`)
//
// `--port 0` picks a free port. The first line on stdout is the URL.

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.fer': 'application/octet-stream',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

function args(argv) {
  const o = { port: 8080, host: '127.0.0.1', pkg: join(ROOT, 'target/wasm/pkg'), model: join(HERE, 'model.fer') };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    if (k === '--port') o.port = Number(v);
    else if (k === '--host') o.host = v;
    else if (k === '--pkg') o.pkg = resolve(v);
    else if (k === '--model') o.model = resolve(v);
    else if (k === '--models') o.models = resolve(v);
    else throw new Error(`unknown option ${k} (use --port, --host, --pkg, --model, --models)`);
  }
  return o;
}

/** Maps a URL path to a file under `base`, or null when it would escape it. */
function under(base, rel) {
  const p = normalize(join(base, rel));
  return p === base || p.startsWith(base + sep) ? p : null;
}

export function startServer({ port = 0, host = '127.0.0.1', pkg, model, models } = {}) {
  pkg = resolve(pkg ?? join(ROOT, 'target/wasm/pkg'));
  model = model === undefined ? join(HERE, 'model.fer') : resolve(model);
  const server = createServer((req, res) => {
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    let file;
    if (path === '/') file = join(HERE, 'index.html');
    else if (path === '/model.fer') file = model;
    else if (path.startsWith('/pkg/')) file = under(pkg, path.slice(5));
    else if (path.startsWith('/models/')) file = models ? under(resolve(models), path.slice(8)) : null;
    else file = under(HERE, path.slice(1));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const a = server.address();
      ok({ server, url: `http://${host}:${a.port}/` });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = args(process.argv.slice(2));
  if (!existsSync(join(o.pkg, 'index.js'))) {
    console.error(`warning: no package in ${o.pkg}: run \`node bindings/wasm/build.mjs\` first`);
  }
  const { url } = await startServer(o);
  console.log(url);
  console.error(
    `ferrite demo: serving ${HERE}, /pkg/ from ${o.pkg}, /model.fer from ${o.model}` +
      (o.models ? `, /models/ from ${o.models}` : ''),
  );
}
