// Set up for the unit and pglite tiers (vitest.config.ts): their tests run wholly inside the test
// process, so a socket or a child process there is a mistake — most often a client made with a default
// URL that quietly reaches the shared PostgreSQL or Redis, so the test passes only where those run.
// Every attempt is refused at once and fails the test that made it, even when the code under test
// swallows the error. A test that needs a server or a process belongs to another tier
// (scripts/check-test-tiers.mjs names them).
import childProcess, { ChildProcess } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { afterEach, expect } from 'vitest';

const attempts: string[] = [];

function refuse(what: string): never {
  attempts.push(what);
  throw new Error(
    `${what}: tests of the unit and pglite tiers use no servers and start no processes; move this test to a .pg., .redis. or .e2e. file`,
  );
}

function describeTarget(args: unknown[]): string {
  const [first, second] = args;
  // net.connect hands Socket#connect its normalised arguments as one array.
  if (Array.isArray(first)) return describeTarget(first);
  if (typeof first === 'object' && first !== null) {
    const o = first as { path?: string; host?: string; port?: number };
    return o.path ?? `${o.host ?? 'localhost'}:${o.port ?? '?'}`;
  }
  return typeof first === 'number' ? `${typeof second === 'string' ? second : 'localhost'}:${first}` : String(first);
}

// Every TCP, TLS and IPC client socket connects through Socket#connect; every server listens through Server#listen.
net.Socket.prototype.connect = function connect(...args: unknown[]): never {
  refuse(`a connection to ${describeTarget(args)}`);
} as typeof net.Socket.prototype.connect;
net.Server.prototype.listen = function listen(...args: unknown[]): never {
  refuse(`a server listening on ${describeTarget(args)}`);
} as typeof net.Server.prototype.listen;

// spawn, fork, exec and execFile all start their process through ChildProcess#spawn (an internal
// method, hence the cast); the synchronous forms have entry points of their own.
(ChildProcess.prototype as unknown as { spawn(options: { file?: string }): never }).spawn = function spawn(options) {
  refuse(`a child process (${options?.file ?? '?'})`);
};
for (const name of ['spawnSync', 'execSync', 'execFileSync'] as const) {
  Object.assign(childProcess, { [name]: (file: unknown) => refuse(`a child process (${String(file)})`) });
}
syncBuiltinESMExports();

afterEach(() => {
  const made = attempts.splice(0);
  expect(made, 'sockets or processes in a test of the unit or pglite tier').toEqual([]);
});
