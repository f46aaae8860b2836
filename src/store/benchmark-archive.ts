import { posix } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BadInputError } from '../errors';

/**
 * A stored benchmark's files as one gzipped POSIX tar (ustar, with a pax `path` record for
 * names longer than 100 bytes): a format `tar -tzf` lists, written and read here in plain
 * Node (zlib for the gzip), regular files only. Every header is written the same way (mtime
 * 0, uid 0, mode 644 or 755), so the same files always give the same archive bytes.
 */

export interface ArchiveFile {
  /** Relative, `/`-separated: `tasks.jsonl`, `<task>/tests/test.sh`. */
  path: string;
  bytes: Buffer;
  /** Only the executable bit survives (Harbor runs tests/test.sh, solution/solve.sh). */
  executable: boolean;
}

const BLOCK = 512;
const REGULAR = '0';
const PAX_HEADER = 'x';

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, size: number, mode: number, type: string): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(mode, 8), 100, 'latin1');
  block.write(octal(0, 8), 108, 'latin1'); // uid
  block.write(octal(0, 8), 116, 'latin1'); // gid
  block.write(octal(size, 12), 124, 'latin1');
  block.write(octal(0, 12), 136, 'latin1'); // mtime
  block.write(type, 156, 'latin1');
  block.write('ustar\0' + '00', 257, 'latin1');
  block.fill(' ', 148, 156);
  const sum = block.reduce((total, byte) => total + byte, 0);
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function padded(data: Buffer): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, Buffer.alloc(BLOCK - rest)];
}

/** One pax record, `<length> path=<value>\n`, whose length counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length++;
  return Buffer.from(`${length}${body}`, 'utf8');
}

export function packArchive(files: readonly ArchiveFile[]): Buffer {
  const blocks: Buffer[] = [];
  for (const file of files) {
    checkPath(file.path, 'packArchive');
    if (Buffer.byteLength(file.path) > 100) {
      const pax = paxRecord('path', file.path);
      blocks.push(header('PaxHeader', pax.length, 0o644, PAX_HEADER), ...padded(pax));
    }
    blocks.push(header(file.path, file.bytes.length, file.executable ? 0o755 : 0o644, REGULAR), ...padded(file.bytes));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return gzipSync(Buffer.concat(blocks));
}

/** A path that stays inside the folder it is unpacked into: relative, no `.` or `..` steps. */
function checkPath(path: string, source: string): void {
  const steps = path.split('/');
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0') || steps.some((s) => s === '' || s === '.' || s === '..')) {
    throw new BadInputError(`${source}: archive entry ${JSON.stringify(path)} is not a plain relative path`);
  }
  if (posix.normalize(path) !== path) throw new BadInputError(`${source}: archive entry ${JSON.stringify(path)} is not normalized`);
}

function text(block: Buffer, offset: number, width: number): string {
  const field = block.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? width : end).toString('utf8');
}

function readOctal(block: Buffer, offset: number, width: number, source: string): number {
  const digits = text(block, offset, width).trim();
  if (!/^[0-7]+$/.test(digits)) throw new BadInputError(`${source}: corrupt tar header (bad number ${JSON.stringify(digits)})`);
  return parseInt(digits, 8);
}

function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const length = Number(data.subarray(offset, space).toString('latin1'));
    if (space < 0 || !Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    offset += length;
  }
  return path;
}

/**
 * The files of an archive `packArchive` wrote (or any gzipped tar of regular files and
 * folders). `source` names where the bytes came from, for errors: a corrupt or hostile archive
 * (a link, a path leaving its folder) is refused, never unpacked in part.
 */
export function unpackArchive(archive: Buffer, source: string): ArchiveFile[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive);
  } catch (err) {
    throw new BadInputError(`${source}: not a gzipped archive (${(err as Error).message})`);
  }
  const files: ArchiveFile[] = [];
  const seen = new Set<string>();
  let longPath: string | undefined;
  for (let offset = 0; ; ) {
    if (offset + BLOCK > tar.length) throw new BadInputError(`${source}: the archive ends without its end-of-archive blocks (truncated?)`);
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((byte) => byte === 0)) break;
    const sum = block.reduce((total, byte, i) => total + (i >= 148 && i < 156 ? 0x20 : byte), 0);
    if (sum !== readOctal(block, 148, 8, source)) throw new BadInputError(`${source}: corrupt tar header at byte ${offset} (checksum)`);
    const size = readOctal(block, 124, 12, source);
    const data = tar.subarray(offset + BLOCK, offset + BLOCK + size);
    if (data.length < size) throw new BadInputError(`${source}: the archive is truncated inside an entry`);
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    const type = String.fromCharCode(block[156] || 0x30);
    if (type === PAX_HEADER) {
      longPath = paxPath(data);
      continue;
    }
    if (type === 'g' || type === '5') continue; // global pax headers, folders: implied by the files
    if (type !== REGULAR) throw new BadInputError(`${source}: archive entry ${text(block, 0, 100)} is not a regular file (tar type ${type})`);
    const prefix = text(block, 345, 155);
    const path = longPath ?? (prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100));
    longPath = undefined;
    checkPath(path, source);
    if (seen.has(path)) throw new BadInputError(`${source}: archive entry ${path} appears twice`);
    seen.add(path);
    files.push({ path, bytes: Buffer.from(data), executable: (readOctal(block, 100, 8, source) & 0o111) !== 0 });
  }
  return files;
}
