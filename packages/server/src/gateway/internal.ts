// For the other folders of the server package only (not exported from the package): the API key
// check that the bootstrap of `controlplane dev` makes before it reuses a stored key.
export { apiKeyUsable } from './api-keys.js';
