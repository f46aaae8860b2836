import type { SamplerConfig } from '../config/evaluator';
import { BadInputError } from '../errors';
import { SamplerClient } from '../sampler/client';
import { Semaphore } from '../sampler/semaphore';

/**
 * One client per sampler endpoint for the whole worker, as SPEC.md's trials share one client.
 * The API key comes from the worker's own environment, named by `api_key_env`. With
 * EVSYS_MAX_REQUESTS_PER_ENDPOINT set, every eval this worker runs against one endpoint
 * shares that many requests in flight, whatever each eval's n_concurrent.
 */
export class SamplerPool {
  private readonly clients = new Map<string, SamplerClient>();
  private readonly endpointLimits = new Map<string, Semaphore>();
  private readonly maxRequestsPerEndpoint: number | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv) {
    const raw = env.EVSYS_MAX_REQUESTS_PER_ENDPOINT;
    this.maxRequestsPerEndpoint = raw ? Number(raw) : undefined;
    if (this.maxRequestsPerEndpoint !== undefined && !(Number.isInteger(this.maxRequestsPerEndpoint) && this.maxRequestsPerEndpoint > 0)) {
      throw new Error(`EVSYS_MAX_REQUESTS_PER_ENDPOINT must be a whole number > 0, got ${raw}`);
    }
  }

  /** Runs one request under the endpoint's shared limit, if the worker has one. */
  throttled<T>(baseUrl: string, request: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.maxRequestsPerEndpoint === undefined) return request();
    let limit = this.endpointLimits.get(baseUrl);
    if (!limit) this.endpointLimits.set(baseUrl, (limit = new Semaphore(this.maxRequestsPerEndpoint)));
    return limit.use(request, signal);
  }

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
