// The shim must be evaluated before @peculiar/x509 (tsyringe checks for it at load time);
// ESM evaluates imports in order, so this import has to stay first.
import './reflect-metadata-shim.js';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// Node's WebCrypto, not a JS polyfill: keys and signatures come from OpenSSL.
x509.cryptoProvider.set(webcrypto);

export { x509 };
export const subtle = webcrypto.subtle;
