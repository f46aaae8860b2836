/**
 * Separates a reasoning model's thinking from its answer, so verifiers score the answer alone.
 * Follows the `<think>...</think>` convention of Qwen3, DeepSeek-R1 and their kin.
 */

export interface SplitOptions {
  /**
   * The prompt already opened the block (it ends inside `<think>`, see `promptOpensThinking`), so
   * generation starts in the reasoning: a text with no tag at all is then unfinished reasoning.
   */
  openedInPrompt?: boolean;
}

export interface SplitThinking {
  /** What is left for the verifier: the text after the block; '' when the block never closed. */
  answer: string;
  /** The block's content, trimmed; null when the text has no block at all. */
  reasoning: string | null;
}

const OPEN = '<think>';
const CLOSE = '</think>';

/**
 * - `<think>r</think>a`: answer `a`, reasoning `r` (what precedes `<think>` is dropped, as vLLM's
 *   reasoning parsers do).
 * - `r</think>a`: the prompt opened the block (Qwen3 style): the same split.
 * - `<think>r` (never closed, e.g. cut by max_tokens): answer '', reasoning `r`.
 * - no tag: the whole text is the answer, reasoning null; unless `openedInPrompt`, then the whole
 *   text is unfinished reasoning and the answer is ''.
 * The first `</think>` ends the block. The answer loses the whitespace that separates it from the
 * block; a text without a block is returned as is.
 */
export function splitThinking(text: string, opts: SplitOptions = {}): SplitThinking {
  const close = text.indexOf(CLOSE);
  if (close >= 0) {
    const open = text.indexOf(OPEN);
    const start = open >= 0 && open < close ? open + OPEN.length : 0;
    return { answer: text.slice(close + CLOSE.length).trimStart(), reasoning: text.slice(start, close).trim() };
  }
  const open = text.indexOf(OPEN);
  if (open >= 0) return { answer: '', reasoning: text.slice(open + OPEN.length).trim() };
  if (opts.openedInPrompt) return { answer: '', reasoning: text.trim() };
  return { answer: text, reasoning: null };
}

/**
 * Whether a rendered prompt leaves a `<think>` block open, so the completion starts inside it
 * (DeepSeek-R1's and Qwen3-Thinking-2507's templates end the generation prompt with `<think>\n`).
 * Qwen3 with enable_thinking=false closes an empty block (`<think>\n\n</think>\n\n`): false.
 */
export function promptOpensThinking(prompt: string): boolean {
  return prompt.lastIndexOf(OPEN) > prompt.lastIndexOf(CLOSE);
}
