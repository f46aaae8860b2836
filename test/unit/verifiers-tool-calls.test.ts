import { describe, expect, it } from 'vitest';
import type { VerifierSpec } from '../../src/benchmark/task';
import { BadInputError } from '../../src/errors';
import { verify } from '../../src/verifiers';

function spec(expected: unknown, params: Record<string, unknown> = {}): VerifierSpec {
  return { kind: 'in_process', fn_name: 'tool_calls_match', expected, params };
}

const CLICK = { tool: 'computer', action: 'left_click', coordinate: [100, 200] };

describe('tool_calls_match', () => {
  it('matches tool and action, ignoring extra fields', async () => {
    const expected = { tool: 'browser', action: 'scroll' };
    expect((await verify(spec(expected), '{"tool": "browser", "action": "scroll", "direction": "down"}')).reward).toBe(1);
    expect((await verify(spec(expected), '{"tool": "browser", "action": "click"}')).reward).toBe(0);
    expect((await verify(spec(expected), '{"tool": "shell", "action": "scroll"}')).reward).toBe(0);
    expect((await verify(spec(expected), '{"tool": "Browser", "action": "scroll"}')).reward).toBe(0);
  });

  it('strips ```json and bare code fences and tolerates prose around the call', async () => {
    const expected = { tool: 'browser', action: 'scroll' };
    const call = '{"tool": "browser", "action": "scroll"}';
    expect((await verify(spec(expected), '```json\n' + call + '\n```')).reward).toBe(1);
    expect((await verify(spec(expected), '```\n' + call + '\n```')).reward).toBe(1);
    expect((await verify(spec(expected), `I will scroll now.\n\`\`\`json\n${call}\n\`\`\`\nDone.`)).reward).toBe(1);
    expect((await verify(spec(expected), `Sure! The call is ${call} and that is all.`)).reward).toBe(1);
    // An unclosed fence (the model ran out of tokens after the call) still parses.
    expect((await verify(spec(expected), '```json\n' + call)).reward).toBe(1);
    // Braces inside strings do not end the object early.
    expect((await verify(spec({ tool: 't', action: 'type', text: 'a } b {' }), 'x {"tool":"t","action":"type","text":"a } b {"} y')).reward).toBe(1);
  });

  it('takes the first JSON object and skips brace text that is not JSON', async () => {
    const expected = { tool: 'browser', action: 'scroll' };
    expect((await verify(spec(expected), 'set {x} first, then {"tool": "browser", "action": "scroll"}')).reward).toBe(1);
    expect((await verify(spec(expected), '{"tool": "shell", "action": "run"} {"tool": "browser", "action": "scroll"}')).reward).toBe(0);
  });

  it('gives 0, not an error, for a completion with no readable call', async () => {
    const expected = { tool: 'browser', action: 'scroll' };
    expect((await verify(spec(expected), '')).reward).toBe(0);
    expect((await verify(spec(expected), 'I would scroll the browser.')).reward).toBe(0);
    expect((await verify(spec(expected), "{'tool': 'browser', 'action': 'scroll'}")).reward).toBe(0);
    expect((await verify(spec(expected), '{"tool": "browser", "action": "scroll"')).reward).toBe(0);
    expect((await verify(spec(expected), '{"tool": "browser"}')).reward).toBe(0);
    expect((await verify(spec(expected), '{"tool": "browser", "action": 3}')).reward).toBe(0);
  });

  it('compares ref and text only when the expected call has them', async () => {
    const typed = { tool: 'browser', action: 'type', ref: 'e12', text: 'hello' };
    expect((await verify(spec(typed), '{"tool":"browser","action":"type","ref":"e12","text":"hello"}')).reward).toBe(1);
    expect((await verify(spec(typed), '{"tool":"browser","action":"type","ref":"e13","text":"hello"}')).reward).toBe(0);
    expect((await verify(spec(typed), '{"tool":"browser","action":"type","ref":"e12","text":"Hello"}')).reward).toBe(0);
    expect((await verify(spec(typed), '{"tool":"browser","action":"type","ref":"e12"}')).reward).toBe(0);
    const untyped = { tool: 'browser', action: 'type', ref: null };
    expect((await verify(spec(untyped), '{"tool":"browser","action":"type","ref":"anything","text":"x"}')).reward).toBe(1);
  });

  it('accepts a coordinate within the default tolerance of 25 (Euclidean, boundary included)', async () => {
    const call = (x: number, y: number) => JSON.stringify({ tool: 'computer', action: 'left_click', coordinate: [x, y] });
    expect((await verify(spec(CLICK), call(100, 200))).reward).toBe(1);
    expect((await verify(spec(CLICK), call(125, 200))).reward).toBe(1);
    expect((await verify(spec(CLICK), call(126, 200))).reward).toBe(0);
    expect((await verify(spec(CLICK), call(115, 220))).reward).toBe(1); // distance exactly 25
    expect((await verify(spec(CLICK), call(120, 220))).reward).toBe(0); // 20 per axis, 28.3 apart
    expect((await verify(spec(CLICK), call(80.5, 190.5))).reward).toBe(1);
  });

  it('honours params.coordinate_tolerance', async () => {
    const call = (x: number, y: number) => JSON.stringify({ tool: 'computer', action: 'left_click', coordinate: [x, y] });
    expect((await verify(spec(CLICK, { coordinate_tolerance: 5 }), call(103, 204))).reward).toBe(1);
    expect((await verify(spec(CLICK, { coordinate_tolerance: 5 }), call(104, 204))).reward).toBe(0);
    expect((await verify(spec(CLICK, { coordinate_tolerance: 0 }), call(100, 200))).reward).toBe(1);
    expect((await verify(spec(CLICK, { coordinate_tolerance: 0 }), call(100, 201))).reward).toBe(0);
  });

  it('gives 0 for a missing or malformed coordinate when one is expected', async () => {
    expect((await verify(spec(CLICK), '{"tool":"computer","action":"left_click"}')).reward).toBe(0);
    expect((await verify(spec(CLICK), '{"tool":"computer","action":"left_click","coordinate":[100]}')).reward).toBe(0);
    expect((await verify(spec(CLICK), '{"tool":"computer","action":"left_click","coordinate":["100","200"]}')).reward).toBe(0);
    expect((await verify(spec(CLICK), '{"tool":"computer","action":"left_click","coordinate":{"x":100,"y":200}}')).reward).toBe(0);
  });

  it('accepts the expected call as a JSON string', async () => {
    expect((await verify(spec(JSON.stringify(CLICK)), JSON.stringify(CLICK))).reward).toBe(1);
  });

  it('rejects a malformed expected call or tolerance with BadInputError', async () => {
    const completion = JSON.stringify(CLICK);
    await expect(verify(spec(undefined), completion)).rejects.toThrow(BadInputError);
    await expect(verify(spec('click'), completion)).rejects.toThrow(/expected must be a JSON tool call/);
    await expect(verify(spec([CLICK]), completion)).rejects.toThrow(/expected must be an object/);
    await expect(verify(spec({ tool: 'computer' }), completion)).rejects.toThrow(/expected\.action must be a string/);
    await expect(verify(spec({ ...CLICK, coordinate: [1, 'a'] }), completion)).rejects.toThrow(/expected\.coordinate/);
    await expect(verify(spec(CLICK, { coordinate_tolerance: -1 }), completion)).rejects.toThrow(/coordinate_tolerance/);
    await expect(verify(spec(CLICK, { coordinate_tolerance: '25' }), completion)).rejects.toThrow(BadInputError);
    // Even when the completion is garbage: the task is broken whatever the model says.
    await expect(verify(spec({ tool: 1, action: 'x' }), 'no call')).rejects.toThrow(BadInputError);
  });
});
