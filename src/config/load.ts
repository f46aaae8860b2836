import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { didYouMean } from './did-you-mean';
import { ConfigError } from './errors';
import { EvaluatorFileEntrySchema, type EvaluatorFileEntry } from './evaluator';

type KeyPath = readonly PropertyKey[];

function lineOf(doc: Document, lines: LineCounter, keyPath: KeyPath): number | undefined {
  // Point at the deepest node that exists: an unknown or missing key has no node of its own.
  for (let depth = keyPath.length; depth >= 0; depth--) {
    const node = doc.getIn(keyPath.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function knownKeysAt(keyPath: KeyPath): string[] {
  let schema: z.ZodType = EvaluatorFileEntrySchema;
  for (const key of keyPath) {
    const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
    const inner = shape?.[String(key)];
    if (!inner) return [];
    schema = unwrap(inner);
  }
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  const def = (schema as unknown as { def: { innerType?: z.ZodType; options?: z.ZodType[] } }).def;
  if (def.innerType) return unwrap(def.innerType);
  if (def.options) return unwrap(def.options[0]);
  return schema;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(issue.path);
    return issue.keys
      .map((key) => {
        const hint = didYouMean(key, known);
        return `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
      })
      .join('; ');
  }
  return issue.message;
}

/** Turns the first zod issue into a ConfigError that names file, line and key. */
export function configErrorFrom(file: string, error: z.ZodError, doc?: Document, lines?: LineCounter): ConfigError {
  const issue = error.issues[0];
  const key = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const line = doc && lines ? lineOf(doc, lines, key) : undefined;
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : '';
  return new ConfigError(file, issue.path.map(String).join('.'), describeIssue(issue) + more, line);
}

function resolveRelative(baseDir: string, value: string | null | undefined): string | null | undefined {
  return value ? path.resolve(baseDir, value) : value;
}

/** A store is a SQLite file path or an http(s) URL; only the path is relative to the YAML. */
function resolveStore(baseDir: string, store: string | null | undefined): string | null | undefined {
  return store && !/^https?:\/\//.test(store) ? path.resolve(baseDir, store) : store;
}

/**
 * Reads one evaluator entry from a YAML file. Paths in it (benchmark, store, workspace, a
 * tokenizer folder) are relative to the file, so a config works from any working directory.
 */
export function loadEvaluatorFile(file: string): EvaluatorFileEntry {
  const text = readFileSync(file, 'utf8');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new ConfigError(file, '', `YAML syntax error: ${first.message.split('\n')[0]}`, first.linePos?.[0].line);
  }
  const parsed = EvaluatorFileEntrySchema.safeParse(doc.toJS());
  if (!parsed.success) throw configErrorFrom(file, parsed.error, doc, lines);
  const entry = parsed.data;
  const baseDir = path.dirname(path.resolve(file));
  return {
    ...entry,
    benchmark: 'path' in entry.benchmark ? { path: path.resolve(baseDir, entry.benchmark.path) } : entry.benchmark,
    store: resolveStore(baseDir, entry.store),
    workspace_dir: resolveRelative(baseDir, entry.workspace_dir),
  };
}
