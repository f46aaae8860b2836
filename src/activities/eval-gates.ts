import { Semaphore } from '../sampler/semaphore';

/**
 * The worker's half of `n_concurrent`. The workflow schedules a few tasks beyond its request
 * slots, so that when a task finishes the next one is already on the worker and the Temporal
 * round trip between them (completion, workflow task, schedule, poll: about 20 ms, a tenth of a
 * request here) no longer leaves slots empty. What then holds the eval's requests to
 * `n_concurrent` is this gate: one semaphore per eval (its ledger key) in this worker process,
 * taken for each sampler request. With one worker process the cap stays exact; with several on
 * one eval, the workflow's schedule still bounds the total to n_concurrent plus the tasks ahead.
 */
export class EvalGates {
  private readonly gates = new Map<string, { semaphore: Semaphore; users: number }>();

  async use<T>(evalKey: string, limit: number, request: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let gate = this.gates.get(evalKey);
    if (!gate) this.gates.set(evalKey, (gate = { semaphore: new Semaphore(limit), users: 0 }));
    gate.users++;
    try {
      return await gate.semaphore.use(request, signal);
    } finally {
      // A worker serves evals for weeks: a gate nobody waits on is dropped, not kept.
      if (--gate.users === 0) this.gates.delete(evalKey);
    }
  }
}
