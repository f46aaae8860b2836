import type { SamplerConfig } from '../config/evaluator';
import { BadInputError } from '../errors';
import { SamplerClient } from '../sampler/client';

/**
 * One client per sampler endpoint for the whole worker, as SPEC.md's trials share one client.
 * The API key comes from the worker's own environment, named by `api_key_env`.
 */
export class SamplerPool {
  private readonly clients = new Map<string, SamplerClient>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  clientFor(config: SamplerConfig, model: string): SamplerClient {
    const key = JSON.stringify([config.base_url, model, config.api_key_env, config.timeout_s, config.max_retries]);
    let client = this.clients.get(key);
    if (!client) {
      client = new SamplerClient({
        baseUrl: config.base_url,
        model,
        apiKey: this.apiKey(config),
        timeoutMs: config.timeout_s * 1000,
        maxRetries: config.max_retries,
      });
      this.clients.set(key, client);
    }
    return client;
  }

  private apiKey(config: SamplerConfig): string | undefined {
    if (!config.api_key_env) return undefined;
    const key = this.env[config.api_key_env];
    if (!key) throw new BadInputError(`sampler.api_key_env names ${config.api_key_env}, which this worker's environment does not set`);
    return key;
  }
}
