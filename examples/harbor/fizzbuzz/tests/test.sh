#!/bin/bash
# reward.json with several keys: `reward` (all cases pass) is the metric; `cases` is the share that pass.
python3 - <<'PY'
import json
cases = {1: "1", 3: "Fizz", 5: "Buzz", 9: "Fizz", 10: "Buzz", 15: "FizzBuzz", 30: "FizzBuzz", 7: "7"}
passed = 0
try:
    scope = {}
    exec(open("/app/answer.txt").read(), scope)
    passed = sum(1 for n, want in cases.items() if scope["fizzbuzz"](n) == want)
except Exception as err:
    print(f"the answer does not run: {err!r}")
share = passed / len(cases)
json.dump({"reward": 1.0 if passed == len(cases) else 0.0, "cases": share}, open("/logs/verifier/reward.json", "w"))
print(f"{passed}/{len(cases)} cases pass")
PY
