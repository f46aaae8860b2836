#!/usr/bin/env python3
"""A training loop that scores each checkpoint with evsys, from Python.

The eval runs on evsys's TypeScript worker; this script is only a Temporal client. It names the
workflow type as a string ("evaluateBenchmark") and sends a plain JSON dict, the same input that
schema/evaluate-benchmark-input.schema.json describes, so no evsys code is needed here.

    pip install -r examples/python/requirements.txt
    npx evsys simulate --benchmark examples/arithmetic --port 8000 &   # or a real vLLM/SGLang
    npx evsys worker &                       # serves TEMPORAL_ADDRESS, queue EVSYS_TASK_QUEUE
    python3 examples/python/train_loop.py --benchmark examples/arithmetic \
        --sampler-url http://127.0.0.1:8000/v1 --steps 1,2 --run-id demo

Prints one JSON line per step on stdout: {"step", "workflow_id", "metrics", "upload"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

WORKFLOW_TYPE = "evaluateBenchmark"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "evaluate-benchmark-input.schema.json"


def eval_workflow_id(run_id: str, name: str, benchmark_id: str, step: int) -> str:
    """src/client/start-eval.ts evalWorkflowId with run_id and benchmark_id set: one eval of
    (run, evaluator, benchmark, step) has one id, so starting it twice attaches to it."""
    return f"evsys:{run_id}:{name}:{benchmark_id}:step-{step}"


def eval_input(args: argparse.Namespace, step: int) -> dict[str, Any]:
    sampler: dict[str, Any] = {"base_url": args.sampler_url, "model": args.model}
    if args.api_key_env:
        # The key itself never enters workflow input or history: each worker reads this
        # variable from its own environment.
        sampler["api_key_env"] = args.api_key_env
    evaluator: dict[str, Any] = {
        "name": args.name,
        # The workers open this path, so it must be absolute (and visible to them).
        "benchmark": {"path": str(Path(args.benchmark).resolve())},
        "benchmark_id": args.benchmark_id,
        "run_id": args.run_id,
        "sampler": sampler,
        "num_samples": args.num_samples,
        "n_concurrent": args.n_concurrent,
    }
    if args.store:
        evaluator["store"] = args.store
    payload: dict[str, Any] = {"evaluator": evaluator, "step": step}
    if args.model_path:
        payload["model_path"] = args.model_path.format(step=step)
    return payload


def validate(payload: dict[str, Any]) -> None:
    """Checks the input against the shipped JSON Schema when jsonschema is installed."""
    try:
        import jsonschema
    except ImportError:
        return
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise SystemExit(f"invalid evaluateBenchmark input at {where}: {errors[0].message}")


async def start_or_attach(client: Client, task_queue: str, workflow_id: str, payload: dict[str, Any]) -> WorkflowHandle:
    """Like startOrAttachEval: attach to a running or completed eval with this id; start a
    failed, cancelled or terminated one again (it reuses the samples its ledger kept)."""
    try:
        return await client.start_workflow(
            WORKFLOW_TYPE,
            payload,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(workflow_id)


def train_one_step(step: int) -> None:
    """Stands in for the trainer's work; a real loop would save the checkpoint it serves here."""
    print(f"step {step}: training", file=sys.stderr)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", required=True, help="benchmark directory (tasks.jsonl), visible to the workers")
    parser.add_argument("--sampler-url", required=True, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--steps", default="1,2", help="comma-separated training steps to score (default 1,2)")
    parser.add_argument("--run-id", default="py-example", help="training run id; part of each eval's workflow id")
    parser.add_argument("--name", default="quickstart", help="evaluator name (default quickstart)")
    parser.add_argument("--benchmark-id", help="benchmark id in the workflow id (default: the directory's name)")
    parser.add_argument("--model", default="default", help="the sampler's model name")
    parser.add_argument("--model-path", help="checkpoint sent as the request's model; {step} is replaced")
    parser.add_argument("--api-key-env", help="name of the variable holding the API key on the workers")
    parser.add_argument("--num-samples", type=int, default=4)
    parser.add_argument("--n-concurrent", type=int, default=8)
    parser.add_argument("--store", help="results store of the workers: a SQLite path or a dashboard URL")
    args = parser.parse_args(argv)
    args.benchmark_id = args.benchmark_id or Path(args.benchmark).resolve().name
    steps = [int(s) for s in args.steps.split(",") if s.strip()]

    payloads = {step: eval_input(args, step) for step in steps}
    for payload in payloads.values():
        validate(payload)  # before any training, so a bad flag costs nothing

    address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    task_queue = os.environ.get("EVSYS_TASK_QUEUE", "evsys")
    client = await Client.connect(address, namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"))

    # Training does not wait for evals: each is started after its step and runs on the workers
    # while the next step trains; the results are collected at the end.
    started: list[tuple[int, WorkflowHandle]] = []
    for step in steps:
        train_one_step(step)
        payload = payloads[step]
        workflow_id = eval_workflow_id(args.run_id, args.name, args.benchmark_id, step)
        started.append((step, await start_or_attach(client, task_queue, workflow_id, payload)))
        print(f"step {step}: eval {workflow_id} started", file=sys.stderr)

    failed = 0
    for step, handle in started:
        try:
            result = await handle.result()
        except WorkflowFailureError as err:
            failed += 1
            cause = err.cause.message if err.cause else str(err)
            print(f"step {step}: eval {handle.id} failed: {cause}", file=sys.stderr)
            continue
        line = {"step": step, "workflow_id": handle.id, "metrics": result["metrics"], "upload": result["upload"]}
        print(json.dumps(line, sort_keys=True), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        exit_code = asyncio.run(main())
    except SystemExit:
        raise  # argparse and validate(): nothing is connected yet
    except BaseException:
        traceback.print_exc()
        exit_code = 1
    # The client's Rust threads can outlive the event loop and abort the interpreter's teardown
    # with "Fatal Python error: PyGILState_Release" (temporalio/sdk-python#300), turning a
    # finished run into a SIGABRT. Everything is done and printed here, so skip the teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
