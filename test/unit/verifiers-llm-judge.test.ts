import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, type TestContext } from 'vitest';
import type { VerifierSpec } from '../../src/benchmark/task';
import { BadInputError } from '../../src/errors';
import { SamplerClient } from '../../src/sampler/client';
import { type JudgeClient, VerifierInfraError, verify } from '../../src/verifiers';

interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  max_tokens: number;
  temperature: number;
}

interface JudgeServer {
  judge: JudgeClient;
  requests: ChatRequest[];
}

/** A tiny OpenAI chat-completions server whose n-th answer (0-based) is `answers(n)`. */
async function judgeServer(onTestFinished: TestContext['onTestFinished'], answers: (n: number) => string): Promise<JudgeServer> {
  const requests: ChatRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      requests.push(JSON.parse(body) as ChatRequest);
      const content = answers(requests.length - 1);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const judge: JudgeClient = new SamplerClient({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    model: 'judge-model',
    timeoutMs: 2000,
    maxRetries: 1,
    backoff: { initialMs: 1, maxMs: 5 },
  });
  return { judge, requests };
}

const RUBRIC = 'Full marks for naming Paris; nothing otherwise.';

function spec(extra: Partial<Extract<VerifierSpec, { kind: 'llm_judge' }>> = {}): VerifierSpec {
  return { kind: 'llm_judge', rubric: RUBRIC, ...extra };
}

describe.concurrent('llm_judge', () => {
  it('reads a \\boxed{} score and sends rubric, instruction and completion', async ({ onTestFinished }) => {
    const { judge, requests } = await judgeServer(onTestFinished, () => 'The response names Paris. \\boxed{1}');
    const reward = (await verify(spec(), 'It is Paris.', { judge, instruction: 'What is the capital of France?' })).reward;
    expect(reward).toBe(1);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request.model).toBe('judge-model');
    expect(request.temperature).toBe(0);
    expect(request.messages[0].role).toBe('system');
    const prompt = request.messages[1].content;
    expect(prompt).toContain(RUBRIC);
    expect(prompt).toContain('<task>\nWhat is the capital of France?\n</task>');
    expect(prompt).toContain('<response>\nIt is Paris.\n</response>');
    expect(prompt).toContain('a number from 0 to 1');
  });

  it('reads a <score> tag, and the last score when there are several', async ({ onTestFinished }) => {
    const { judge } = await judgeServer(onTestFinished, () => 'Draft: <score>0.2</score>. On reflection: <score> 0.75 </score>');
    expect((await verify(spec(), 'Lyon', { judge })).reward).toBe(0.75);
    const mixed = await judgeServer(onTestFinished, () => '<score>0.1</score> but finally \\boxed{0.4}');
    expect((await verify(spec(), 'Lyon', { judge: mixed.judge })).reward).toBe(0.4);
  });

  it('normalises a 0-10 or 0-100 answer to [0, 1] when the spec gives no max_score', async ({ onTestFinished }) => {
    const answers = ['<score>7</score>', '\\boxed{10}', '<score>85</score>', '<score>1</score>', '<score>0</score>', '<score>7/10</score>', '<score>85%</score>'];
    const { judge } = await judgeServer(onTestFinished, (n) => answers[n]);
    const rewards = [];
    for (let i = 0; i < answers.length; i++) rewards.push((await verify(spec(), 'x', { judge })).reward);
    expect(rewards).toEqual([0.7, 1, 0.85, 1, 0, 0.7, 0.85]);
  });

  it('divides by max_score when the spec gives one, and asks for that scale', async ({ onTestFinished }) => {
    const { judge, requests } = await judgeServer(onTestFinished, () => '<score>1</score>');
    expect((await verify(spec({ max_score: 5 }), 'x', { judge })).reward).toBe(0.2);
    expect(requests[0].messages[1].content).toContain('a number from 0 to 5');
  });

  it('asks again after unparseable answers, keeping the conversation', async ({ onTestFinished }) => {
    const answers = ['It is good.', 'Score: high', '<score>8</score>'];
    const { judge, requests } = await judgeServer(onTestFinished, (n) => answers[n]);
    expect((await verify(spec(), 'Paris', { judge })).reward).toBe(0.8);
    expect(requests).toHaveLength(3);
    const last = requests[2].messages;
    expect(last.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user']);
    expect(last[2].content).toBe('It is good.');
    expect(last[5].content).toMatch(/Reply with only the score/);
  });

  it('treats an out-of-range score as no score', async ({ onTestFinished }) => {
    const answers = ['<score>6</score>', '<score>-1</score>', '<score>4</score>'];
    const { judge, requests } = await judgeServer(onTestFinished, (n) => answers[n]);
    expect((await verify(spec({ max_score: 5 }), 'x', { judge })).reward).toBe(0.8);
    expect(requests).toHaveLength(3);
  });

  it('fails with VerifierInfraError quoting the last answer when no answer has a score', async ({ onTestFinished }) => {
    const { judge, requests } = await judgeServer(onTestFinished, (n) => `I refuse to grade this (answer ${n + 1}).`);
    const run = verify(spec(), 'Paris', { judge });
    await expect(run).rejects.toThrow(VerifierInfraError);
    await expect(run).rejects.toThrow(/no valid score in 3 answers; the last ended "I refuse to grade this \(answer 3\)\."/);
    expect(requests).toHaveLength(3);
  });

  it('turns an unreachable judge into VerifierInfraError, and a missing judge into BadInputError', async () => {
    const judge = new SamplerClient({ baseUrl: 'http://127.0.0.1:1/v1', model: 'm', timeoutMs: 500, maxRetries: 0 });
    await expect(verify(spec(), 'x', { judge })).rejects.toThrow(VerifierInfraError);
    await expect(verify(spec(), 'x', { judge })).rejects.toThrow(/the judge is unavailable/);
    await expect(verify(spec(), 'x', {})).rejects.toThrow(BadInputError);
  });

  it('passes the abort reason through', async ({ onTestFinished }) => {
    const { judge } = await judgeServer(onTestFinished, () => '<score>1</score>');
    const controller = new AbortController();
    const reason = new Error('cancelled');
    controller.abort(reason);
    await expect(verify(spec(), 'x', { judge, signal: controller.signal })).rejects.toBe(reason);
  });
});
