// The handler definition API: what a handlers module may export, and how a permanent failure is marked.
import { describe, expect, it } from 'vitest';
import { defineHandler, handlersFromModule, handlerTypes, isNonRetryableError, NonRetryableError } from '@controlplane/runner';

const run = (): null => null;

describe('defineHandler', () => {
  it('fills the defaults and keeps the options', () => {
    const h = defineHandler({
      type: ['a', 'b'],
      description: 'd',
      timeoutMs: 500,
      memoryLimitMb: 64,
      inputSchema: { type: 'object' },
      run,
    });
    expect(h).toMatchObject({
      type: ['a', 'b'],
      description: 'd',
      timeoutMs: 500,
      memoryLimitMb: 64,
      isolation: 'process',
      inputSchema: { type: 'object' },
    });
    expect(handlerTypes(h)).toEqual(['a', 'b']);
    expect(Object.isFrozen(h)).toBe(true);
    // Idempotent, so the sandbox can pass already-defined handlers through it again.
    expect(defineHandler(h)).toEqual(h);
  });

  it.each([
    [{ type: 'a' }, /no run function/],
    [{ type: '', run }, /type/],
    [{ type: [], run }, /type/],
    [{ type: ['a', 'a'], run }, /same job type twice/],
    [{ type: 'a', run, timeout: 5 }, /unknown handler option "timeout"/],
    [{ type: 'a', run, timeoutMs: 0 }, /timeoutMs/],
    [{ type: 'a', run, concurrency: 1.5 }, /concurrency/],
    [{ type: 'a', run, memoryLimitMb: 8 }, /memoryLimitMb/],
    [{ type: 'a', run, isolation: 'vm' }, /isolation/],
    [{ type: 'a', run, inputSchema: 'object' }, /inputSchema/],
  ])('refuses %j', (options, message) => {
    expect(() => defineHandler(options as never)).toThrow(
      expect.objectContaining({ name: 'InternalError', code: 'CP_RUNNER_HANDLER_INVALID' }),
    );
    expect(() => defineHandler(options as never)).toThrow(message);
  });
});

describe('handlersFromModule', () => {
  it('reads the default export, or else the named `handlers` export, by job type', () => {
    expect([...handlersFromModule({ default: [{ type: ['x', 'y'], run }] }).keys()]).toEqual(['x', 'y']);
    expect([...handlersFromModule({ handlers: [{ type: 'z', run }] }).keys()]).toEqual(['z']);
  });

  it('refuses a module without a handler array, and a type served twice', () => {
    expect(() => handlersFromModule({ default: { type: 'x', run } })).toThrow(/array of handlers/);
    expect(() =>
      handlersFromModule({
        default: [
          { type: 'x', run },
          { type: ['y', 'x'], run },
        ],
      }),
    ).toThrow(/"x" has two handlers/);
  });
});

describe('isNonRetryableError', () => {
  it('recognises the SDK class and the Symbol.for brand, and nothing else', () => {
    expect(isNonRetryableError(new NonRetryableError('no'))).toBe(true);
    expect(isNonRetryableError(Object.assign(new Error('no'), { [Symbol.for('controlplane.runner.nonRetryable')]: true }))).toBe(true);
    expect(isNonRetryableError(new Error('maybe'))).toBe(false);
    expect(isNonRetryableError({ name: 'NonRetryableError' })).toBe(false);
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap');
        },
        getPrototypeOf: () => {
          throw new Error('trap');
        },
      },
    );
    expect(isNonRetryableError(hostile)).toBe(false);
  });
});
