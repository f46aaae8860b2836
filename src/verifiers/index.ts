// Each import registers one verifier; a new verifier is one new file plus one line here.
import './contains';
import './e2b';
import './exact-match';
import './llm-judge';
import './math-equal';
import './program';
import './regex-match';
import './tool-calls-match';

export {
  DEFAULT_SANDBOX,
  VerifierInfraError,
  type JudgeClient,
  type JudgeMessage,
  type SandboxOptions,
  type VerifyContext,
} from './context';
export {
  getAnswerExtractor,
  getVerifier,
  registeredVerifierNames,
  registerVerifier,
  verifierVersion,
  verifierVersionOf,
  type AnswerExtractor,
  type InProcessVerifier,
  type VerifierOptions,
} from './registry';
export { E2B_OUTPUT_CHARS } from './code-check';
export { checkVerifierSpecs, extractAnswer, verify } from './verify';
export type { Verdict } from './context';
