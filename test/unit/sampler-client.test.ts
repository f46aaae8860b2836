import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { TaskSchema } from '../../src/benchmark/task';
import { BadInputError } from '../../src/errors';
import { SamplerClient, SamplerUnavailableError, type SamplerClientOptions } from '../../src/sampler/client';
import {
  startSimulator,
  type FaultRates,
  type RunningSimulator,
  type SimulatorOptions,
  type SimulatorStats,
} from '../../src/simulator/server';

const TASKS = [
  TaskSchema.parse({
    task_id: 'add',
    instruction: 'What is 2+2?',
    verifier: { kind: 'in_process', fn_name: 'exact_match', expected: 4 },
  }),
];
const PROMPT = [{ role: 'user' as const, content: 'What is 2+2?' }];
const REQUEST = { maxTokens: 16, temperature: 0 };

async function simulator(overrides: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const started = await startSimulator({ tasks: TASKS, seed: 5, pCorrect: 0.5, latencyMs: 0, ...overrides });
  onTestFinished(() => started.close());
  return started;
}

function client(baseUrl: string, overrides: Partial<SamplerClientOptions> = {}): SamplerClient {
  return new SamplerClient({
    baseUrl,
    model: 'test-model',
    timeoutMs: 1000,
    maxRetries: 3,
    backoff: { initialMs: 1, maxMs: 10 },
    ...overrides,
  });
}

interface RawServer {
  url: string;
  requests: { url?: string; headers: http.IncomingHttpHeaders; body: string }[];
}

/**
 * A bare server for exact responses; `respond` gets the 0-based attempt number. Concurrent tests
 * pass their context's `onTestFinished`, so one test's end does not close another's server.
 */
async function rawServer(
  respond: (attempt: number, res: http.ServerResponse) => void,
  whenFinished = onTestFinished,
): Promise<RawServer> {
  const requests: RawServer['requests'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      requests.push({ url: req.url, headers: req.headers, body });
      respond(requests.length - 1, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  whenFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const OK_BODY = { choices: [{ message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] };

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function timed<T>(work: Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work;
  return { result, ms: performance.now() - started };
}

describe('SamplerClient', () => {
  it('posts an OpenAI chat body with the bearer key, tolerating a trailing slash', async () => {
    const server = await rawServer((_, res) =>
      sendJson(res, 200, { choices: [{ message: { role: 'assistant', content: null }, finish_reason: 'length' }] }),
    );
    const completion = await client(`${server.url}/`, { apiKey: 'sk-test' }).complete(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      { maxTokens: 32, temperature: 0.7, seed: 3, extraBody: { top_p: 0.9, temperature: 0.1 } },
    );
    expect(completion).toMatchObject({ text: '', attempts: 1, finishReason: 'length' });
    expect(completion.promptTokens).toBeUndefined();
    const [request] = server.requests;
    expect(request.url).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe('Bearer sk-test');
    expect(JSON.parse(request.body)).toEqual({
      model: 'test-model',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      max_tokens: 32,
      temperature: 0.1,
      seed: 3,
      top_p: 0.9,
    });

    await client(server.url).complete(PROMPT, REQUEST);
    expect(server.requests[1].headers.authorization).toBeUndefined();
    expect(JSON.parse(server.requests[1].body)).not.toHaveProperty('seed');
  });

  it("returns the simulator's answer with usage, latency and one attempt", async () => {
    const sim = await simulator({ pCorrect: 1, latencyMs: 100 });
    const completion = await client(sim.url).complete(PROMPT, REQUEST);
    expect(completion).toMatchObject({
      text: '4',
      promptTokens: 3,
      completionTokens: 1,
      attempts: 1,
      finishReason: 'stop',
    });
    expect(completion.latencyS).toBeGreaterThanOrEqual(0.09);
    expect(completion.latencyS).toBeLessThan(1);
  });

  describe('retries each fault kind to the answer a fault-free server gives', () => {
    const faults: [keyof SimulatorStats['faults'], Partial<FaultRates>][] = [
      ['429', { rate429: 0.5, retryAfterS: 0 }],
      ['500', { rate500: 0.5 }],
      ['hang', { rateHang: 0.5 }],
      ['malformed', { rateMalformed: 0.5 }],
      ['reset', { rateReset: 0.5 }],
    ];
    it.each(faults)('%s', async (kind, rates) => {
      const clean = await simulator();
      const faulty = await simulator({ faults: rates });
      const sampler = client(faulty.url, { timeoutMs: 100, maxRetries: 10 });
      let attempts = 0;
      for (let seed = 0; seed < 6; seed++) {
        const expected = await client(clean.url).complete(PROMPT, { ...REQUEST, seed });
        const got = await sampler.complete(PROMPT, { ...REQUEST, seed });
        expect(got.text).toBe(expected.text);
        attempts += got.attempts;
      }
      const stats = faulty.stats();
      const injected = stats.faults[kind];
      expect(injected).toBeGreaterThan(0);
      expect(attempts).toBe(6 + injected);
      expect(stats.completed).toBe(6);
    });
  });

  describe('honours Retry-After', () => {
    /** Time to complete against a server that first answers `status` with this Retry-After. */
    async function timeAfterRetryAfter(
      status: number,
      retryAfter: string,
      maxBackoffMs: number,
      whenFinished: typeof onTestFinished,
    ): Promise<{ attempts: number; ms: number }> {
      const server = await rawServer(
        (attempt, res) =>
          attempt === 0
            ? sendJson(res, status, { error: { message: 'later' } }, { 'retry-after': retryAfter })
            : sendJson(res, 200, OK_BODY),
        whenFinished,
      );
      const sampler = client(server.url, { backoff: { initialMs: 1, maxMs: maxBackoffMs } });
      const { result, ms } = await timed(sampler.complete(PROMPT, REQUEST));
      return { attempts: result.attempts, ms };
    }

    it.concurrent('in seconds', async ({ onTestFinished: whenFinished }) => {
      const { attempts, ms } = await timeAfterRetryAfter(429, '1', 1000, whenFinished);
      expect(attempts).toBe(2);
      expect(ms).toBeGreaterThanOrEqual(900);
    });

    it.concurrent('as an HTTP date, on 503', async ({ onTestFinished: whenFinished }) => {
      const date = new Date(Date.now() + 1500).toUTCString();
      const { attempts, ms } = await timeAfterRetryAfter(503, date, 1000, whenFinished);
      expect(attempts).toBe(2);
      // The date has whole seconds, so the wait is between 0.5 and 1.5 s.
      expect(ms).toBeGreaterThanOrEqual(400);
    });

    it.concurrent('capped at three times the longest backoff', async ({ onTestFinished: whenFinished }) => {
      const { attempts, ms } = await timeAfterRetryAfter(429, '3600', 50, whenFinished);
      expect(attempts).toBe(2);
      expect(ms).toBeGreaterThanOrEqual(140);
      expect(ms).toBeLessThan(1000);
    });
  });

  it('times out a hung request, closing it, then gives up after maxRetries', async () => {
    const sim = await simulator({ faults: { rateHang: 1 } });
    const completing = client(sim.url, { timeoutMs: 100, maxRetries: 2 }).complete(PROMPT, REQUEST);
    await expect(completing).rejects.toThrow(SamplerUnavailableError);
    await expect(completing).rejects.toThrow(`sampler at ${sim.url}/chat/completions unavailable: 3 attempt(s) over 0 s; last cause: no complete answer within 100 ms`);
    await expect(completing).rejects.toThrow(/no complete answer within 100 ms/);
    await until(() => sim.stats().aborted === 3);
    expect(sim.stats()).toMatchObject({ requests: 3, inFlight: 0, faults: { hang: 3 } });
  });

  it('stops at once when cancelled mid-request, and the server sees the client leave', async () => {
    const sim = await simulator({ latencyMs: 5000 });
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    const completing = client(sim.url).complete(PROMPT, { ...REQUEST, signal: controller.signal });
    await until(() => sim.stats().inFlight === 1);
    const { result: error, ms } = await timed(
      (() => {
        controller.abort(reason);
        return completing.catch((thrown: unknown) => thrown);
      })(),
    );
    expect(error).toBe(reason);
    expect(ms).toBeLessThan(500);
    await until(() => sim.stats().aborted === 1);
    expect(sim.stats()).toMatchObject({ requests: 1, completed: 0, inFlight: 0 });
  });

  it('rejects with an AbortError when aborted without a reason, even on its last attempt', async () => {
    const sim = await simulator({ latencyMs: 5000 });
    const controller = new AbortController();
    const completing = client(sim.url, { maxRetries: 0 }).complete(PROMPT, { ...REQUEST, signal: controller.signal });
    await until(() => sim.stats().inFlight === 1);
    controller.abort();
    await expect(completing).rejects.toMatchObject({ name: 'AbortError' });

    await expect(client(sim.url).complete(PROMPT, { ...REQUEST, signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(sim.stats().requests).toBe(1);
  });

  it('stops at once when cancelled during the wait before a retry', async () => {
    const sim = await simulator({ faults: { rate429: 1, retryAfterS: 10 } });
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    const completing = client(sim.url, { backoff: { initialMs: 1, maxMs: 10_000 } }).complete(PROMPT, {
      ...REQUEST,
      signal: controller.signal,
    });
    await until(() => sim.stats().requests === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { result: error, ms } = await timed(
      (() => {
        controller.abort(reason);
        return completing.catch((thrown: unknown) => thrown);
      })(),
    );
    expect(error).toBe(reason);
    expect(ms).toBeLessThan(100);
    expect(sim.stats().requests).toBe(1);
  });

  it('does not retry a rejected request and reports the server message', async () => {
    const server = await rawServer((_, res) =>
      // vLLM's error shape.
      sendJson(res, 404, { object: 'error', message: 'The model `nope` does not exist.', type: 'NotFoundError' }),
    );
    const completing = client(server.url).complete(PROMPT, REQUEST);
    await expect(completing).rejects.toThrow(BadInputError);
    await expect(completing).rejects.toThrow(
      `sampler at ${server.url}/chat/completions rejected the request: HTTP 404: The model \`nope\` does not exist.`,
    );
    expect(server.requests).toHaveLength(1);

    const sim = await simulator();
    const invalid = client(sim.url).complete(PROMPT, { ...REQUEST, extraBody: { messages: 'not a list' } });
    await expect(invalid).rejects.toThrow(/HTTP 400: invalid chat completion request/);
    expect(sim.stats().requests).toBe(1);
  });

  it('names the URL, the attempts and the cause when nothing listens', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const completing = client(`http://127.0.0.1:${port}/v1`, { maxRetries: 1 }).complete(PROMPT, REQUEST);
    await expect(completing).rejects.toThrow(SamplerUnavailableError);
    await expect(completing).rejects.toThrow(
      new RegExp(`at http://127.0.0.1:${port}/v1/chat/completions unavailable: 2 attempt\\(s\\) over \\d+ s; last cause: .*ECONNREFUSED`),
    );
  });

  it('reports a malformed answer with an excerpt of the body', async () => {
    const sim = await simulator({ faults: { rateMalformed: 1 } });
    const completing = client(sim.url, { maxRetries: 0 }).complete(PROMPT, REQUEST);
    await expect(completing).rejects.toThrow(`malformed answer from ${sim.url}/chat/completions: `);
    await expect(completing).rejects.toThrow(/body starts "\{\\"id\\":\\"chatcmpl-sim-1/);

    const server = await rawServer((_, res) => sendJson(res, 200, { choices: [] }));
    const schemaInvalid = client(server.url, { maxRetries: 1 }).complete(PROMPT, REQUEST);
    await expect(schemaInvalid).rejects.toThrow(/unavailable: 2 attempt\(s\) over \d+ s; last cause: malformed answer from .*choices/s);
  });

  it('refuses a base URL that is not a URL', () => {
    expect(() => client('not a url')).toThrow(BadInputError);
  });
});
