/** Helpers for reading answers out of free-form model output. */

export interface CodeBlock {
  /** The fence's info string, lowercased: `json`, `python`, or '' for a bare fence. */
  lang: string;
  content: string;
}

/** The Markdown code blocks in order; a block the model never closed runs to the end. */
export function codeBlocks(text: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let at = 0;
  for (;;) {
    const open = text.indexOf('```', at);
    if (open < 0) return blocks;
    const lineEnd = text.indexOf('\n', open + 3);
    if (lineEnd < 0) return blocks;
    const lang = text.slice(open + 3, lineEnd).trim().toLowerCase();
    const close = text.indexOf('```', lineEnd + 1);
    const end = close < 0 ? text.length : close;
    blocks.push({ lang, content: text.slice(lineEnd + 1, end) });
    if (close < 0) return blocks;
    at = close + 3;
  }
}

/** Index just past the `}` that closes the `{` at `open`, or -1; `{`/`}` inside JSON strings are skipped when `jsonStrings`. */
export function matchingBrace(text: string, open: number, jsonStrings = false): number {
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"' && jsonStrings) inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

/** The most `{` positions tried, so a completion full of stray braces stays cheap to scan. */
const MAX_OBJECT_STARTS = 200;

/** The first JSON object in the text (surrounding prose tolerated), or null. */
export function firstJsonObject(text: string): Record<string, unknown> | null {
  let start = text.indexOf('{');
  for (let tries = 0; start >= 0 && tries < MAX_OBJECT_STARTS; tries++) {
    const end = matchingBrace(text, start, true);
    if (end > 0) {
      try {
        const value: unknown = JSON.parse(text.slice(start, end));
        if (isPlainObject(value)) return value;
      } catch {
        // Not JSON from this brace on: try the next one.
      }
    }
    start = text.indexOf('{', start + 1);
  }
  return null;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface Boxed {
  content: string;
  /** Where `\boxed` starts, to compare with other answer markers. */
  index: number;
}

/** The contents of every `\boxed{...}` (or `\fbox{...}`), braces balanced; an unclosed one is skipped. */
export function boxedContents(text: string): Boxed[] {
  const found: Boxed[] = [];
  const marker = /\\(?:boxed|fbox)\s*\{/g;
  for (let m = marker.exec(text); m; m = marker.exec(text)) {
    const open = m.index + m[0].length - 1;
    const end = matchingBrace(text, open);
    if (end > 0) found.push({ content: text.slice(open + 1, end - 1), index: m.index });
  }
  return found;
}

/** The last `\boxed{...}` content, or null. */
export function lastBoxed(text: string): string | null {
  return boxedContents(text).at(-1)?.content ?? null;
}

export function excerpt(text: string, chars = 200): string {
  return text.length > chars ? `${text.slice(0, chars)}…` : text;
}

/** The end of a text, where a model usually puts its verdict. */
export function tailExcerpt(text: string, chars = 200): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}
