#!/bin/bash
# The answer is in /app/answer.txt: the single-turn agent's reply, or what the shell agent wrote.
expected=$(awk '{ s += $1 } END { print s }' /app/numbers.txt)
if [ "$(tr -d '[:space:]' < /app/answer.txt 2>/dev/null)" = "$expected" ]; then
  echo 1 > /logs/verifier/reward.txt
else
  echo 0 > /logs/verifier/reward.txt
fi
