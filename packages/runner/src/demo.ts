import { fileURLToPath } from 'node:url';

/** The demo runner's handlers module (echo, primes, sleep, flaky), shipped with this package. */
export const DEMO_HANDLERS_MODULE = fileURLToPath(new URL('../demo/handlers.mjs', import.meta.url));
