import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BenchmarkError, loadBenchmark } from '../../src/benchmark/load';
import { BadInputError } from '../../src/errors';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function benchmarkDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'evsys-bench-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

function taskLine(id: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    task_id: id,
    instruction: `What is ${id}?`,
    verifier: { kind: 'in_process', fn_name: 'exact_match', expected: id },
    ...extra,
  });
}

/** Runs `load` and returns the BenchmarkError it must throw. */
async function loadError(dir: string, limit?: number | null): Promise<BenchmarkError> {
  const error = await loadBenchmark(dir, { limit }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(BenchmarkError);
  expect(error).toBeInstanceOf(BadInputError);
  return error as BenchmarkError;
}

describe('loadBenchmark', () => {
  it('loads tasks in file order with metadata, skipping blank lines and defaulting fields', async () => {
    const dir = await benchmarkDir({
      'tasks.jsonl': `${taskLine('a', { metadata: { level: 1 } })}\n\n${taskLine('b')}\r\n   \n`,
      'metadata.yaml': 'name: arithmetic\ndescription: sums\nversion: 1.10\nsplits: [val, test]\nowner: me\n',
    });
    const benchmark = await loadBenchmark(dir);
    expect(benchmark.name).toBe('arithmetic');
    expect(benchmark.dir).toBe(dir);
    expect(benchmark.totalTasks).toBe(2);
    expect(benchmark.tasks.map((task) => task.task_id)).toEqual(['a', 'b']);
    expect(benchmark.tasks[0]!.metadata).toEqual({ level: 1 });
    expect(benchmark.tasks[1]!.metadata).toEqual({});
    expect(benchmark.tasks[1]!.verifier).toEqual({
      kind: 'in_process',
      fn_name: 'exact_match',
      expected: 'b',
      params: {},
    });
    expect(benchmark.metadata).toEqual({
      name: 'arithmetic',
      description: 'sums',
      version: '1.10', // not the number 1.1
      splits: ['val', 'test'],
      owner: 'me',
    });
    expect(benchmark.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the benchmark after its directory when metadata.yaml is absent or empty', async () => {
    const withoutMetadata = await benchmarkDir({ 'tasks.jsonl': taskLine('a') });
    const loaded = await loadBenchmark(withoutMetadata);
    expect(loaded.name).toBe(basename(withoutMetadata));
    expect(loaded.metadata).toEqual({});

    const withEmptyMetadata = await benchmarkDir({ 'tasks.jsonl': taskLine('a'), 'metadata.yaml': '# nothing\n' });
    expect((await loadBenchmark(withEmptyMetadata)).metadata).toEqual({});
  });

  it('keeps the first `limit` tasks but counts and hashes them all', async () => {
    const dir = await benchmarkDir({ 'tasks.jsonl': ['a', 'b', 'c', 'd'].map((id) => taskLine(id)).join('\n') });
    const all = await loadBenchmark(dir);
    const two = await loadBenchmark(dir, { limit: 2 });
    expect(two.tasks.map((task) => task.task_id)).toEqual(['a', 'b']);
    expect(two.totalTasks).toBe(4);
    expect(two.contentHash).toBe(all.contentHash);
    expect((await loadBenchmark(dir, { limit: 0 })).tasks).toEqual([]);
    expect((await loadBenchmark(dir, { limit: null })).tasks).toHaveLength(4);
    expect((await loadBenchmark(dir, { limit: 10 })).tasks).toHaveLength(4);
  });

  it('rejects a negative or fractional limit', async () => {
    const dir = await benchmarkDir({ 'tasks.jsonl': taskLine('a') });
    await expect(loadBenchmark(dir, { limit: -1 })).rejects.toThrow(BadInputError);
    await expect(loadBenchmark(dir, { limit: -1 })).rejects.toThrow(/limit.*-1/);
    await expect(loadBenchmark(dir, { limit: 1.5 })).rejects.toThrow(BadInputError);
  });

  it('names the directory when tasks.jsonl is missing', async () => {
    const dir = await benchmarkDir({ 'metadata.yaml': 'name: x\n' });
    const error = await loadError(dir);
    expect(error.message).toContain(dir);
    expect(error.message).toContain('tasks.jsonl');
    expect(error.file).toBe(join(dir, 'tasks.jsonl'));

    const nowhere = join(dir, 'does-not-exist');
    expect((await loadError(nowhere)).message).toContain(nowhere);
  });

  it('names file:line for a line that is not JSON', async () => {
    const dir = await benchmarkDir({ 'tasks.jsonl': `${taskLine('a')}\n\n{"task_id": "b",\n${taskLine('c')}\n` });
    const error = await loadError(dir);
    const file = join(dir, 'tasks.jsonl');
    expect(error.file).toBe(file);
    expect(error.line).toBe(3);
    expect(error.message.startsWith(`${file}:3: invalid JSON`)).toBe(true);
  });

  it('names file:line and the field path for a row that fails the task schema', async () => {
    const badRow = JSON.stringify({ task_id: 'b', instruction: 'x', verifier: { kind: 'in_process', fn_name: 7 } });
    const dir = await benchmarkDir({ 'tasks.jsonl': [taskLine('a'), '', '', '', '', '', badRow].join('\n') });
    const error = await loadError(dir);
    expect(error.line).toBe(7);
    expect(error.message).toMatch(new RegExp(`^${escape(join(dir, 'tasks.jsonl'))}:7: verifier\\.fn_name: .*expected string`));
  });

  it('rejects an unknown verifier kind and a row that is not an object', async () => {
    const unknownKind = await benchmarkDir({
      'tasks.jsonl': JSON.stringify({ task_id: 'a', instruction: 'x', verifier: { kind: 'shell' } }),
    });
    expect((await loadError(unknownKind)).message).toContain(':1: verifier.kind:');

    const notObject = await benchmarkDir({ 'tasks.jsonl': `${taskLine('a')}\n[1, 2]\n` });
    expect((await loadError(notObject)).message).toMatch(/:2: row: .*expected object/);
  });

  it('names both lines of a duplicate task_id', async () => {
    const dir = await benchmarkDir({ 'tasks.jsonl': [taskLine('a'), taskLine('b'), taskLine('a')].join('\n') });
    const error = await loadError(dir, 1);
    expect(error.line).toBe(3);
    expect(error.message).toContain(`${join(dir, 'tasks.jsonl')}:3: duplicate task_id "a"`);
    expect(error.message).toContain('line 1');
  });

  it('names metadata.yaml and the line of a YAML syntax error', async () => {
    const dir = await benchmarkDir({
      'tasks.jsonl': taskLine('a'),
      'metadata.yaml': 'name: x\ntags: [val, test\ndescription: y\n',
    });
    const error = await loadError(dir);
    expect(error.file).toBe(join(dir, 'metadata.yaml'));
    expect(error.line).toBeGreaterThanOrEqual(2);
    expect(error.message).toMatch(new RegExp(`^${escape(join(dir, 'metadata.yaml'))}:\\d+: `));
  });

  it('rejects metadata.yaml that is not a mapping, or has a mistyped known key', async () => {
    const list = await benchmarkDir({ 'tasks.jsonl': taskLine('a'), 'metadata.yaml': '# header\n- a\n- b\n' });
    const listError = await loadError(list);
    expect(listError.message).toBe(`${join(list, 'metadata.yaml')}:2: expected a mapping of keys to values`);

    const badName = await benchmarkDir({ 'tasks.jsonl': taskLine('a'), 'metadata.yaml': 'version: "1"\nname: [a, b]\n' });
    const nameError = await loadError(badName);
    expect(nameError.line).toBe(2);
    expect(nameError.message).toMatch(/metadata\.yaml:2: name: .*expected string/);
  });

  it('changes the content hash when any byte of either file changes', async () => {
    const tasks = [taskLine('a'), taskLine('b')].join('\n');
    const hashOf = async (files: Record<string, string>) => (await loadBenchmark(await benchmarkDir(files))).contentHash;
    const base = await hashOf({ 'tasks.jsonl': tasks, 'metadata.yaml': 'name: x\n' });
    expect(await hashOf({ 'tasks.jsonl': tasks, 'metadata.yaml': 'name: x\n' })).toBe(base);
    expect(await hashOf({ 'tasks.jsonl': tasks.replace('"b"', '"c"'), 'metadata.yaml': 'name: x\n' })).not.toBe(base);
    expect(await hashOf({ 'tasks.jsonl': `${tasks}\n`, 'metadata.yaml': 'name: x\n' })).not.toBe(base);
    expect(await hashOf({ 'tasks.jsonl': tasks, 'metadata.yaml': 'name: y\n' })).not.toBe(base);
    expect(await hashOf({ 'tasks.jsonl': tasks })).not.toBe(base);
  });

  it('loads 20,000 tasks and keeps the first `limit`', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => taskLine(`t${i}`, { metadata: { i, group: i % 7 } }));
    const dir = await benchmarkDir({ 'tasks.jsonl': lines.join('\n') });
    const benchmark = await loadBenchmark(dir, { limit: 5 });
    expect(benchmark.totalTasks).toBe(20_000);
    expect(benchmark.tasks.map((task) => task.task_id)).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
