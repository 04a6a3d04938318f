// The layers of src/ and the one direction of their imports (docs/architecture.md). Every relative import of every
// source file, static or dynamic, is checked against ALLOWED; a new folder must be placed in the table before it
// can import anything. TypeScript's own preProcessFile finds the imports (the compiler is already a dependency,
// and a few lines here read more plainly than a dependency-cruiser configuration).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

/** What each unit of src/ (a folder, or a file at the top) may import besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  'config.ts': [],
  'log.ts': ['config.ts'],
  core: ['config.ts'],
  video: [],
  db: ['core', 'generated', 'config.ts', 'log.ts'],
  queue: ['core', 'db', 'config.ts', 'log.ts'],
  engine: ['core', 'video', 'config.ts', 'log.ts'],
  service: ['core', 'db', 'queue', 'config.ts', 'log.ts'],
  http: ['service', 'core', 'config.ts', 'log.ts'],
  admin: ['http', 'service', 'queue', 'db', 'core', 'config.ts', 'log.ts'],
  bots: ['http', 'service', 'video', 'core', 'config.ts', 'log.ts'],
  'main.ts': ['admin', 'bots', 'http', 'service', 'queue', 'engine', 'db', 'core', 'config.ts', 'log.ts'],
  cli: ['main.ts', 'engine', 'video', 'db', 'core', 'config.ts', 'log.ts'],
  // Prisma's generated clients.
  generated: [],
};

interface ImportEdge {
  from: string;
  to: string;
}

/** The unit a path under src/ belongs to: its first segment. */
function unitOf(pathInSrc: string): string {
  return pathInSrc.split('/')[0]!;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.startsWith('generated/'))
    .map((file) => file.split('\\').join('/'));
}

/** Relative imports of one file, as paths under src/. */
function importsOf(srcDir: string, file: string): ImportEdge[] {
  const info = ts.preProcessFile(readFileSync(join(srcDir, file), 'utf8'), true, true);
  return info.importedFiles
    .map((imported) => imported.fileName)
    .filter((name) => name.startsWith('.'))
    // Imports name the compiled .js file of a .ts source.
    .map((name) => ({ from: file, to: relative(srcDir, resolve(srcDir, dirname(file), name.replace(/\.js$/, '.ts'))).split('\\').join('/') }));
}

/** Imports the table does not allow, as "from -> to" lines. */
function forbiddenImports(edges: readonly ImportEdge[], allowed: Record<string, readonly string[]>): string[] {
  const problems: string[] = [];
  for (const { from, to } of edges) {
    const source = unitOf(from);
    const target = unitOf(to);
    if (source === target) continue;
    const rule = allowed[source];
    if (rule === undefined) problems.push(`${from}: src/${source} is not in the layer table (test/architecture.test.ts)`);
    else if (!rule.includes(target)) problems.push(`${from} -> ${to}: src/${source} may not import src/${target}`);
  }
  return problems;
}

/** A cycle among the units the table allows, or undefined. */
function cycleIn(allowed: Record<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const walk = (unit: string, path: string[]): string[] | undefined => {
    if (state.get(unit) === 'done') return undefined;
    if (state.get(unit) === 'open') return [...path.slice(path.indexOf(unit)), unit];
    state.set(unit, 'open');
    for (const next of allowed[unit] ?? []) {
      const cycle = walk(next, [...path, unit]);
      if (cycle !== undefined) return cycle;
    }
    state.set(unit, 'done');
    return undefined;
  };
  for (const unit of Object.keys(allowed)) {
    const cycle = walk(unit, []);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

describe('architecture', () => {
  const srcDir = resolve('src');

  it('every import of src/ follows the layer table', () => {
    const edges = sourceFiles(srcDir).flatMap((file) => importsOf(srcDir, file));
    assert.ok(edges.length > 500, `found only ${edges.length} imports: the scan is broken`);
    assert.deepEqual(forbiddenImports(edges, ALLOWED), []);
  });

  it('the layer table has no cycle, so the arrows run one way', () => {
    assert.equal(cycleIn(ALLOWED)?.join(' -> '), undefined);
  });

  it('names a back arrow, a unit outside the table, and a cycle', () => {
    const edges = [
      { from: 'core/video-service.ts', to: 'queue/worker.ts' },
      { from: 'db/usage-stats.ts', to: 'queue/quota.ts' },
      { from: 'admin/routes/history.ts', to: 'bots/http/media.ts' },
      { from: 'bots/discord/size-cap.ts', to: 'engine/video/ffmpeg.ts' },
      { from: 'plugins/x.ts', to: 'core/jobs.ts' },
      { from: 'queue/worker.ts', to: 'core/jobs.ts' },
    ];
    assert.deepEqual(forbiddenImports(edges, ALLOWED), [
      'core/video-service.ts -> queue/worker.ts: src/core may not import src/queue',
      'db/usage-stats.ts -> queue/quota.ts: src/db may not import src/queue',
      'admin/routes/history.ts -> bots/http/media.ts: src/admin may not import src/bots',
      'bots/discord/size-cap.ts -> engine/video/ffmpeg.ts: src/bots may not import src/engine',
      'plugins/x.ts: src/plugins is not in the layer table (test/architecture.test.ts)',
    ]);
    assert.deepEqual(cycleIn({ core: ['queue'], queue: ['core'] }), ['core', 'queue', 'core']);
  });

  it('docs/architecture.md names every unit of the table', () => {
    const doc = readFileSync('docs/architecture.md', 'utf8');
    for (const unit of Object.keys(ALLOWED)) assert.ok(doc.includes(unit), `docs/architecture.md does not mention ${unit}`);
  });
});
