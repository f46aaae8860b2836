// Each import registers one verifier; a new verifier is one new file plus one line here.
import './contains';
import './exact-match';
import './regex-match';

export {
  getVerifier,
  registeredVerifierNames,
  registerVerifier,
  verifierVersion,
  type InProcessVerifier,
} from './registry';
export { verify } from './verify';
