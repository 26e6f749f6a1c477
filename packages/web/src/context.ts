import type { SessionInfo } from './api.js';
import type { Signer } from './signing.js';

/** What every page gets: who is signed in, and the signing key if a key file is loaded. */
export interface PageContext {
  session: SessionInfo;
  signer: Signer | null;
}

const WRITERS = ['admin', 'operator', 'submitter'];
const OPERATORS = ['admin', 'operator'];

/** Mirrors of the route table's roles, only to hide what the API would refuse anyway. */
export const can = {
  cancel: (s: SessionInfo) => WRITERS.includes(s.role),
  retry: (s: SessionInfo) => OPERATORS.includes(s.role),
  runners: (s: SessionInfo) => OPERATORS.includes(s.role),
  audit: (s: SessionInfo) => s.role === 'admin',
  keys: (s: SessionInfo) => s.role === 'admin',
};
