// Regenerates schema/evaluate-benchmark-input.schema.json from the zod schema (npm run schema).
// A test fails when the committed file differs, so it never drifts from the code.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { evaluateBenchmarkInputJsonSchema } from '../src/workflows/input-json-schema';

export const SCHEMA_FILE = path.resolve(__dirname, '..', 'schema', 'evaluate-benchmark-input.schema.json');

writeFileSync(SCHEMA_FILE, `${JSON.stringify(evaluateBenchmarkInputJsonSchema(), null, 2)}\n`);
console.log(`wrote ${SCHEMA_FILE}`);
