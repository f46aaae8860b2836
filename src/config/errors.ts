import { BadInputError } from '../errors';

/** A config problem, located: `file:line: key.path: message`. */
export class ConfigError extends BadInputError {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly keyPath: string,
    readonly detail: string,
    readonly line?: number,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${keyPath || '(top level)'}: ${detail}`);
  }
}
