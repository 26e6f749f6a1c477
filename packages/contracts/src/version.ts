/** The contract version this build speaks. Bump minor for additive changes, major for breaking ones. */
export const CONTRACT_VERSION = Object.freeze({ major: 1, minor: 0, patch: 0 });
export const CONTRACT_VERSION_STRING = `${CONTRACT_VERSION.major}.${CONTRACT_VERSION.minor}.${CONTRACT_VERSION.patch}`;

/**
 * The product version every component reports (health checks, runner registration, client
 * User-Agent). It equals the `version` of every package.json in the repository; a test keeps them
 * in step.
 */
export const PRODUCT_VERSION = '0.1.0';
