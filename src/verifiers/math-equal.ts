import { BadInputError } from '../errors';
import { registerVerifier } from './registry';
import { lastBoxed } from './text';

/** Bump when any input's reward changes (see verifierVersion). */
const VERSION = 1;

/** Two numbers are equal when they differ by at most this fraction of the larger magnitude. */
const RELATIVE_TOLERANCE = 1e-9;
/** Beyond this decimal exponent a number is not turned into an exact fraction (1e999999 would be a huge BigInt). */
const MAX_EXPONENT = 400;

/** An exact fraction, reduced, with a positive denominator. */
interface Rational {
  num: bigint;
  den: bigint;
}

/** A final answer: its value when it reads as a number, and its normalized text either way. */
interface MathAnswer {
  value: Rational | null;
  text: string;
}

/**
 * 1 when the completion's final answer equals `expected` (a number, or a string such as "1/2",
 * "\frac{1}{2}" or "(1, 2)"; a string holding a `\boxed{}` solution uses its last box).
 *
 * The final answer is the last `\boxed{...}` (balanced braces) in the completion, or else the
 * last number in it (`-3`, `1,000`, `2.5`, `3/4`, `\frac{1}{2}`). Both sides are normalized:
 * `$` and `\( \)` delimiters, `\left`/`\right`, LaTeX spacing, `\text{}` and similar wrappers,
 * degree signs, a leading `x =`, a trailing period and all whitespace are dropped; `\dfrac`,
 * `\tfrac` and `\frac12` read as fractions; `1,000` and `1{,}000` as thousands. A percent sign
 * is dropped, so `50%` equals 50 (not 0.5). When both sides read as numbers they are equal within
 * a relative tolerance of 1e-9; otherwise their normalized texts must be identical.
 */
function mathEqual(completion: string, expected: unknown): number {
  const want = expectedAnswer(expected);
  const got = completionAnswer(completion);
  if (!got) return 0;
  if (want.value && got.value) return numbersEqual(want.value, got.value) ? 1 : 0;
  return want.text === got.text ? 1 : 0;
}

/** The canonical value (`-3`, `1/2`) of the final answer, or its normalized text when it is not a number. */
function extractMathAnswer(completion: string): string | null {
  const answer = completionAnswer(completion);
  if (!answer) return null;
  return answer.value ? canonical(answer.value) : answer.text;
}

function expectedAnswer(expected: unknown): MathAnswer {
  if (typeof expected === 'number') {
    if (!Number.isFinite(expected)) throw new BadInputError(`math_equal: expected must be a finite number, got ${expected}`);
    return readAnswer(String(expected));
  }
  if (typeof expected !== 'string') {
    throw new BadInputError(
      `math_equal: expected must be a number or a string, got ${expected === undefined ? 'nothing' : JSON.stringify(expected)}`,
    );
  }
  const answer = readAnswer(lastBoxed(expected) ?? expected);
  if (answer.text === '') throw new BadInputError(`math_equal: expected is blank: ${JSON.stringify(expected)}`);
  return answer;
}

function completionAnswer(completion: string): MathAnswer | null {
  const boxed = lastBoxed(completion);
  if (boxed !== null) {
    const answer = readAnswer(boxed);
    return answer.text === '' ? null : answer;
  }
  const number = lastNumber(completion);
  return number === null ? null : readAnswer(number);
}

/** A number the text states: a `\frac`, or a plain, signed, thousands-separated, decimal or a/b number. */
const NUMBER_IN_TEXT =
  /-?\s*\\[dt]?frac\s*(?:\{[^{}]*\}|\d)\s*(?:\{[^{}]*\}|\d)|(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?(?:\s*\/\s*-?\d+(?:\.\d+)?)?/g;

function lastNumber(text: string): string | null {
  const matches = unifyText(text).match(NUMBER_IN_TEXT);
  return matches ? matches[matches.length - 1] : null;
}

/** Spellings of the same characters that every reading folds first. */
function unifyText(text: string): string {
  return text.replace(/\u2212/g, '-').replace(/\{,\}/g, ',');
}

function readAnswer(raw: string): MathAnswer {
  const text = normalize(raw, 'keep-text');
  // "5\text{ cm}" is the number 5; "\text{5}" is too, which the text-kept form reads.
  const value = parseNumber(text) ?? parseNumber(normalize(raw, 'drop-text'));
  return { value, text };
}

const TEXT_WRAPPERS = /\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}/g;

function normalize(raw: string, textWrappers: 'keep-text' | 'drop-text'): string {
  let s = unifyText(raw)
    .replace(TEXT_WRAPPERS, textWrappers === 'keep-text' ? '$1' : '')
    .replace(/\\\$/g, '')
    .replace(/\$/g, '')
    .replace(/\\[()[\]]/g, '')
    .replace(/\\(?:left|right|displaystyle)\b/g, '')
    .replace(/\\[!,;:> ]/g, '')
    .replace(/~/g, '')
    .replace(/\^\s*\{?\s*\\circ\s*\}?|°/g, '')
    .replace(/\\?%/g, '')
    .replace(/\s+/g, '')
    .replace(/\.+$/, '');
  // A bare assignment "x=5" answers 5; "x=y=5" or "a=b" are left alone.
  const assignment = /^[a-zA-Z]\w*=([^=]+)$/.exec(s);
  if (assignment) s = assignment[1];
  while (s.startsWith('{') && closingBrace(s) === s.length - 1) s = s.slice(1, -1);
  return s;
}

function closingBrace(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;
const THOUSANDS = /^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;
const FRAC = /^([+-]?)\\[dt]?frac(\{[^{}]*\}|\d)(\{[^{}]*\}|\d)$/;

/** The exact value of a normalized answer, or null when it is not a plain number or fraction. */
function parseNumber(s: string): Rational | null {
  const frac = FRAC.exec(s);
  if (frac) {
    const value = divide(parseDecimal(unbrace(frac[2])), parseDecimal(unbrace(frac[3])));
    return value && frac[1] === '-' ? { num: -value.num, den: value.den } : value;
  }
  const slash = s.indexOf('/');
  if (slash >= 0) return divide(parseDecimal(s.slice(0, slash)), parseDecimal(s.slice(slash + 1)));
  return parseDecimal(s);
}

function unbrace(arg: string): string {
  return arg.startsWith('{') ? arg.slice(1, -1) : arg;
}

function parseDecimal(s: string): Rational | null {
  const plain = THOUSANDS.test(s) ? s.replace(/,/g, '') : s;
  const m = DECIMAL.exec(plain);
  if (!m) return null;
  const [, sign, whole, fraction = '', exponentText = '0'] = m;
  if (whole === '' && fraction === '') return null;
  const exponent = Number(exponentText);
  if (Math.abs(exponent) > MAX_EXPONENT) return null;
  let num = BigInt(whole + fraction || '0');
  let den = 10n ** BigInt(fraction.length);
  if (exponent >= 0) num *= 10n ** BigInt(exponent);
  else den *= 10n ** BigInt(-exponent);
  if (sign === '-') num = -num;
  return reduce(num, den);
}

function divide(a: Rational | null, b: Rational | null): Rational | null {
  if (!a || !b || b.num === 0n) return null;
  return reduce(a.num * b.den, a.den * b.num);
}

function reduce(num: bigint, den: bigint): Rational {
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const divisor = gcd(num < 0n ? -num : num, den);
  return { num: num / divisor, den: den / divisor };
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a === 0n ? 1n : a;
}

function numbersEqual(a: Rational, b: Rational): boolean {
  if (a.num * b.den === b.num * a.den) return true;
  const x = Number(a.num) / Number(a.den);
  const y = Number(b.num) / Number(b.den);
  return Math.abs(x - y) <= RELATIVE_TOLERANCE * Math.max(Math.abs(x), Math.abs(y));
}

function canonical(value: Rational): string {
  return value.den === 1n ? String(value.num) : `${value.num}/${value.den}`;
}

registerVerifier('math_equal', mathEqual, { version: VERSION, extract: extractMathAnswer });
