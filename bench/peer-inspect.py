"""Inspect AI scoring the tasks of a tasks.jsonl against an OpenAI-compatible endpoint (the evsys
simulator), as the peer of bench/efficiency.ts: epochs = samples per task, max_connections =
n_concurrent, a trivial exact-match scorer. Prints one JSON line with the wall time of eval().

Needs: pip install inspect-ai openai
Usage: python3 bench/peer-inspect.py TASKS_JSONL BASE_URL SAMPLES CONCURRENCY LOG_DIR
bench/peer-inspect.ts starts the simulator and runs this beside evsys; run that instead.
"""

import json
import os
import sys
import time

from inspect_ai import Task, eval as inspect_eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, scorer
from inspect_ai.solver import TaskState, generate


@scorer(metrics=[accuracy()])
def exact():
    """The stripped answer equals the target, as evsys's exact_match."""

    async def score(state: TaskState, target: Target) -> Score:
        answer = state.output.completion.strip()
        return Score(value=CORRECT if answer == target.text.strip() else INCORRECT, answer=answer)

    return score


def main() -> None:
    tasks_jsonl, base_url, samples, concurrency, log_dir = sys.argv[1:6]
    samples, concurrency = int(samples), int(concurrency)
    with open(tasks_jsonl) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    dataset = [Sample(id=r["task_id"], input=r["instruction"], target=r["verifier"]["expected"]) for r in rows]
    # The openai-api provider reads <SERVICE>_BASE_URL and <SERVICE>_API_KEY; the key is fake.
    os.environ["EVSYSSIM_BASE_URL"] = base_url
    os.environ["EVSYSSIM_API_KEY"] = "fake"
    task = Task(dataset=dataset, solver=generate(), scorer=exact(), epochs=samples)
    started = time.perf_counter()
    [log] = inspect_eval(
        task,
        model="openai-api/evsyssim/simulator",
        max_connections=concurrency,
        # Samples (task x epoch) in flight; by default max_connections + 1.
        max_samples=concurrency,
        max_tokens=256,
        temperature=0.0,
        display="none",
        log_dir=log_dir,
    )
    wall = time.perf_counter() - started
    accuracy_value = log.results.scores[0].metrics["accuracy"].value if log.results else None
    print(json.dumps({"status": log.status, "wall_s": wall, "samples": len(rows) * samples, "accuracy": accuracy_value}))


if __name__ == "__main__":
    main()
