#!/usr/bin/env node
// Runs every test file of every workspace with Node's test runner, on the TypeScript sources
// (the `medsign-source` export condition) through tsx. Extra arguments are passed to `node --test`
// (e.g. `npm test -- --test-name-pattern=SM4`); plain paths restrict the run to those files.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function testFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (/\.test\.ts$/.test(entry)) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const paths = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
let files = paths;
if (files.length === 0) {
  for (const group of ['packages', 'apps']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const pkg of readdirSync(base)) files.push(...testFiles(join(base, pkg, 'test')));
  }
  files = files.map((f) => relative(root, f)).sort();
}

const result = spawnSync(
  process.execPath,
  ['--conditions=medsign-source', '--import', 'tsx', '--test', '--test-concurrency=2', ...flags, ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
