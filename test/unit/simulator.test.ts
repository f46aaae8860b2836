import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskSchema, type Task } from '../../src/benchmark/task';
import { BadInputError } from '../../src/errors';
import { isCorrectSample, referenceAnswer, wrongAnswer } from '../../src/simulator/oracle';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server';
import { createTaskLookup } from '../../src/simulator/task-lookup';

function task(taskId: string, instruction: string, expected: unknown, metadata: Record<string, unknown> = {}): Task {
  return TaskSchema.parse({
    task_id: taskId,
    instruction,
    verifier: { kind: 'in_process', fn_name: 'exact_match', expected },
    metadata,
  });
}

const TASKS = [
  task('add', 'What is 2+2?', 4),
  task('capital', 'Name the capital of France.', 'Paris'),
  task('short', '2+2', 'four'),
];

const running: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((simulator) => simulator.close()));
});

async function simulator(overrides: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const started = await startSimulator({ tasks: TASKS, seed: 7, pCorrect: 0.5, latencyMs: 0, ...overrides });
  running.push(started);
  return started;
}

function chatBody(prompt: string, seed?: number, model = 'test-model') {
  return { model, messages: [{ role: 'user', content: prompt }], ...(seed === undefined ? {} : { seed }) };
}

async function post(url: string, body: unknown): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function answer(sim: RunningSimulator, body: unknown): Promise<string> {
  const response = await post(`${sim.url}/chat/completions`, body);
  expect(response.status).toBe(200);
  return JSON.parse(response.text).choices[0].message.content;
}

/** A raw request on its own socket, so a test can hang up mid-request or see a reset. */
function rawRequest(url: string, body: unknown): { request: http.ClientRequest; outcome: Promise<string> } {
  const request = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } });
  const outcome = new Promise<string>((resolve) => {
    request.on('response', (response) => resolve(`status ${response.statusCode}`));
    request.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
  });
  request.end(JSON.stringify(body));
  return { request, outcome };
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('oracle', () => {
  it('marks a share of samples correct close to pCorrect, the same on every call', () => {
    for (const pCorrect of [0, 0.1, 0.5, 0.9, 1]) {
      const verdicts = () =>
        Array.from({ length: 4000 }, (_, sampleSeed) => isCorrectSample(3, 'task-1', sampleSeed, pCorrect));
      const first = verdicts();
      const share = first.filter(Boolean).length / first.length;
      expect(Math.abs(share - pCorrect)).toBeLessThan(0.025);
      expect(verdicts()).toEqual(first);
    }
  });

  it('draws independent verdicts for different simulator seeds and tasks', () => {
    const pattern = (seed: number, taskId: string) =>
      Array.from({ length: 64 }, (_, sampleSeed) => isCorrectSample(seed, taskId, sampleSeed, 0.5));
    expect(pattern(1, 'a')).not.toEqual(pattern(2, 'a'));
    expect(pattern(1, 'a')).not.toEqual(pattern(1, 'b'));
  });

  it('takes the reference from metadata first, then from an in-process verifier', () => {
    expect(referenceAnswer(task('t', 'q', 4, { reference_answer: 'four' }))).toBe('four');
    expect(referenceAnswer(task('t', 'q', 4))).toBe('4');
    const judged = TaskSchema.parse({ task_id: 'j', instruction: 'q', verifier: { kind: 'llm_judge', rubric: 'r' } });
    expect(() => referenceAnswer(judged)).toThrow(BadInputError);
  });

  it('gives a wrong answer that never contains the reference, ignoring case and spacing', () => {
    for (const reference of ['4', '42', '-1', '0.5', 'Paris', 'a', 's', 'I', '0', '1', 'I AM   not sure', 'sure']) {
      const wrong = wrongAnswer(task('t', 'q', reference));
      const normalized = (text: string) => text.toLowerCase().replace(/\s+/g, ' ').trim();
      expect(normalized(wrong), `reference ${reference}`).not.toContain(normalized(reference));
      expect(wrongAnswer(task('t', 'q', reference))).toBe(wrong);
    }
    expect(wrongAnswer(task('t', 'q', 42))).toBe('43');
  });
});

describe('task lookup', () => {
  it('matches exactly first, else the longest instruction the prompt contains', () => {
    const find = createTaskLookup(TASKS);
    expect(find('2+2')?.task_id).toBe('short');
    expect(find('What is 2+2?')?.task_id).toBe('add');
    expect(find('Answer briefly.\nWhat is 2+2?\nThink step by step.')?.task_id).toBe('add');
    expect(find('Compute 2+2 now')?.task_id).toBe('short');
    expect(find('Something else entirely')).toBeUndefined();
  });

  it('finds templated prompts among 20,000 tasks with shared prefixes', () => {
    const tasks = Array.from({ length: 20_000 }, (_, i) =>
      task(`t${i}`, `Compute the value of expression number ${i}: ${i} * ${i % 97} + ${i % 13}`, i),
    );
    const find = createTaskLookup(tasks);
    for (let i = 0; i < 20_000; i += 10) {
      const prompt = `You are a careful solver.\n\n${tasks[i].instruction}\n\nAnswer with a number only.`;
      expect(find(prompt)?.task_id).toBe(`t${i}`);
    }
  });
});

describe('simulator', () => {
  it('answers as the oracle decides, identically across runs of the same seed', async () => {
    const [first, second] = [await simulator(), await simulator()];
    const answers: string[] = [];
    for (let sampleSeed = 0; sampleSeed < 30; sampleSeed++) {
      const got = await answer(first, chatBody('What is 2+2?', sampleSeed));
      const expected = isCorrectSample(7, 'add', sampleSeed, 0.5) ? '4' : wrongAnswer(TASKS[0]);
      expect(got).toBe(expected);
      expect(await answer(second, chatBody('What is 2+2?', sampleSeed))).toBe(got);
      answers.push(got);
    }
    expect(new Set(answers)).toEqual(new Set(['4', '5']));
    expect(await answer(first, chatBody('What is 2+2?'))).toBe(await answer(first, chatBody('What is 2+2?', 0)));
  });

  it('reads the task from the last user turn and answers unknown prompts with "I don\'t know."', async () => {
    const sim = await simulator({ pCorrect: 1 });
    const messages = [
      { role: 'system', content: 'Name the capital of France.' },
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: '4' },
      { role: 'user', content: 'Now: Name the capital of France.' },
    ];
    expect(await answer(sim, { model: 'm', messages })).toBe('Paris');
    expect(await answer(sim, chatBody('Who wrote Hamlet?'))).toBe("I don't know.");
    expect(sim.stats()).toMatchObject({ requests: 2, completed: 2, unknownPrompts: 1 });
  });

  it('returns an OpenAI chat.completion echoing the model, with word counts as usage', async () => {
    const sim = await simulator({ pCorrect: 1 });
    const response = await post(`${sim.url}/chat/completions`, {
      model: 'my-model',
      messages: [
        { role: 'system', content: 'Be brief please' },
        { role: 'user', content: 'Name the capital of France.' },
      ],
    });
    expect(response.headers.get('content-type')).toBe('application/json');
    const completion = JSON.parse(response.text);
    expect(completion).toMatchObject({
      object: 'chat.completion',
      model: 'my-model',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Paris' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 8, completion_tokens: 1, total_tokens: 9 },
    });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(typeof completion.created).toBe('number');
  });

  it('counts concurrent requests exactly', async () => {
    const sim = await simulator({ latencyMs: 150 });
    await Promise.all(Array.from({ length: 7 }, (_, i) => answer(sim, chatBody('What is 2+2?', i))));
    expect(sim.stats()).toMatchObject({ requests: 7, completed: 7, inFlight: 0, maxConcurrency: 7 });

    sim.resetStats();
    const queue = Array.from({ length: 9 }, (_, i) => i);
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        await answer(sim, chatBody('What is 2+2?', next));
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    expect(sim.stats()).toMatchObject({ requests: 9, completed: 9, inFlight: 0, maxConcurrency: 3 });
  });

  it('counts a client hanging up during the latency as aborted, not completed', async () => {
    const sim = await simulator({ latencyMs: 2000 });
    const { request, outcome } = rawRequest(`${sim.url}/chat/completions`, chatBody('What is 2+2?'));
    await until(() => sim.stats().inFlight === 1);
    request.destroy();
    await outcome;
    await until(() => sim.stats().aborted === 1);
    expect(sim.stats()).toMatchObject({ requests: 1, completed: 0, inFlight: 0, aborted: 1 });
  });

  it('injects each kind of fault and counts it', async () => {
    const prompt = chatBody('What is 2+2?');
    const limited = await simulator({ faults: { rate429: 1, retryAfterS: 2 } });
    const rateLimited = await post(`${limited.url}/chat/completions`, prompt);
    expect(rateLimited.status).toBe(429);
    expect(rateLimited.headers.get('retry-after')).toBe('2');
    expect(JSON.parse(rateLimited.text).error.message).toMatch(/rate limit/);

    const failing = await simulator({ faults: { rate500: 1 } });
    expect((await post(`${failing.url}/chat/completions`, prompt)).status).toBe(500);

    const garbling = await simulator({ faults: { rateMalformed: 1 } });
    const garbled = await post(`${garbling.url}/chat/completions`, prompt);
    expect(garbled.status).toBe(200);
    expect(() => JSON.parse(garbled.text)).toThrow();

    const resetting = await simulator({ faults: { rateReset: 1 } });
    expect(await rawRequest(`${resetting.url}/chat/completions`, prompt).outcome).toBe('error ECONNRESET');

    const hanging = await simulator({ faults: { rateHang: 1 } });
    const hung = rawRequest(`${hanging.url}/chat/completions`, prompt);
    const silence = new Promise((resolve) => setTimeout(resolve, 300, 'no answer'));
    const unanswered = await Promise.race([hung.outcome, silence]);
    expect(unanswered).toBe('no answer');
    hung.request.destroy();
    await until(() => hanging.stats().aborted === 1);

    expect(limited.stats().faults['429']).toBe(1);
    expect(failing.stats().faults['500']).toBe(1);
    expect(garbling.stats().faults.malformed).toBe(1);
    expect(resetting.stats().faults.reset).toBe(1);
    expect(hanging.stats()).toMatchObject({ faults: { hang: 1 }, completed: 0, inFlight: 0 });
  });

  it('draws the fault sequence from its seed', async () => {
    const statuses = async (seed: number) => {
      const sim = await simulator({ seed, faults: { rate429: 0.3, retryAfterS: 0, rate500: 0.3 } });
      const sequence: number[] = [];
      for (let i = 0; i < 24; i++) sequence.push((await post(`${sim.url}/chat/completions`, chatBody('2+2'))).status);
      return sequence;
    };
    const first = await statuses(11);
    expect(new Set(first)).toEqual(new Set([200, 429, 500]));
    expect(await statuses(11)).toEqual(first);
    expect(await statuses(12)).not.toEqual(first);
  });

  it('serves models and stats, and rejects bad requests with an OpenAI error body', async () => {
    const sim = await simulator();
    const models = (await (await fetch(`${sim.url}/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((model) => model.id)).toEqual(['simulator']);

    const notJson = await post(`${sim.url}/chat/completions`, '{"model":');
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.text).error.message).toMatch(/not valid JSON/);
    const noMessages = await post(`${sim.url}/chat/completions`, { model: 'm', messages: 'hi' });
    expect(noMessages.status).toBe(400);
    expect(JSON.parse(noMessages.text).error.message).toMatch(/messages/);
    expect((await post(`${sim.url}/nowhere`, {})).status).toBe(404);

    await answer(sim, chatBody('2+2'));
    const origin = sim.url.replace(/\/v1$/, '');
    expect(await (await fetch(`${origin}/stats`)).json()).toMatchObject({ requests: 3, completed: 1 });
    expect(await (await fetch(`${origin}/stats/reset`, { method: 'POST' })).json()).toMatchObject({ requests: 0 });
    expect(sim.stats()).toMatchObject({ requests: 0, completed: 0 });
  });

  it('refuses invalid options and tasks it cannot answer', async () => {
    await expect(simulator({ faults: { rate500: 0.6, rateHang: 0.6 } })).rejects.toThrow(/sum to at most 1/);
    await expect(simulator({ pCorrect: 1.5 })).rejects.toThrow(BadInputError);
    const judged = TaskSchema.parse({ task_id: 'j', instruction: 'q', verifier: { kind: 'llm_judge', rubric: 'r' } });
    await expect(simulator({ tasks: [judged] })).rejects.toThrow(/task j has no reference answer/);
  });

  it('closes promptly with a hung request and an idle keep-alive connection open', async () => {
    const sim = await startSimulator({ tasks: TASKS, seed: 1, pCorrect: 1, latencyMs: 0, faults: { rateHang: 1 } });
    // Model listing is never faulted; fetch leaves its connection idle in the keep-alive pool.
    await (await fetch(`${sim.url}/models`)).json();
    const hung = Array.from({ length: 3 }, () => rawRequest(`${sim.url}/chat/completions`, chatBody('2+2')));
    await until(() => sim.stats().inFlight === 3);
    // Without closing open connections this never resolves and the test times out.
    await sim.close();
    await Promise.all(hung.map(({ outcome }) => outcome));
  });
});
