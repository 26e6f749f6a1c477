import { describe, expect, it } from 'vitest';
import { GroupCommit } from '@controlplane/server';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A commit function whose groups the test releases by hand. */
function manual() {
  const groups: Array<{ items: number[]; release: (err?: Error) => void }> = [];
  const commit = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      groups.push({ items, release: (err) => (err ? reject(err) : resolve(items.map((i) => `done ${i}`))) });
    });
  return { groups, commit };
}

describe('GroupCommit', () => {
  it('writes what arrives in one turn as one group, and what arrives while it is written as the next', async () => {
    const { groups, commit } = manual();
    const gc = new GroupCommit<number, string>({ commit });
    const first = [1, 2, 3].map((i) => gc.submit(i));
    await tick();
    expect(groups.map((g) => g.items)).toEqual([[1, 2, 3]]);
    // While the first group is out, nothing else leaves: these wait and go together.
    const second = [4, 5].map((i) => gc.submit(i));
    await tick();
    gc.submit(6).catch(() => undefined);
    await tick();
    expect(groups).toHaveLength(1);
    groups[0]!.release();
    expect(await Promise.all(first)).toEqual(['done 1', 'done 2', 'done 3']);
    await tick();
    expect(groups.map((g) => g.items)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    groups[1]!.release();
    expect(await Promise.all(second)).toEqual(['done 4', 'done 5']);
    await tick();
    expect(gc.idle).toBe(true);
  });

  it('fails only the group whose write failed', async () => {
    const { groups, commit } = manual();
    const gc = new GroupCommit<number, string>({ commit });
    const a = gc.submit(1);
    await tick();
    const b = gc.submit(2);
    groups[0]!.release(new Error('disk full'));
    await expect(a).rejects.toThrow('disk full');
    await tick();
    groups[1]!.release();
    await expect(b).resolves.toBe('done 2');
  });

  it('keeps items with the same key apart, bounds the group size, and allows several groups in flight', async () => {
    const { groups, commit } = manual();
    const gc = new GroupCommit<{ key: string; n: number }, string>({
      commit: (items) => commit(items.map((i) => i.n)),
      keyOf: (i) => i.key,
      maxBatch: 2,
      maxInFlight: 2,
    });
    const all = [
      { key: 'a', n: 1 },
      { key: 'a', n: 2 },
      { key: 'b', n: 3 },
      { key: 'c', n: 4 },
    ].map((i) => gc.submit(i));
    await tick();
    expect(groups.map((g) => g.items)).toEqual([
      [1, 3],
      [2, 4],
    ]);
    for (const g of groups) g.release();
    expect(await Promise.all(all)).toEqual(['done 1', 'done 2', 'done 3', 'done 4']);
  });

  it('refuses an answer with the wrong number of results, and a commit that throws synchronously', async () => {
    const short = new GroupCommit<number, number>({ commit: async () => [1] });
    await expect(Promise.all([short.submit(1), short.submit(2)])).rejects.toThrow(/answered 1 results for 2 items/);
    const throwing = new GroupCommit<number, number>({
      commit: () => {
        throw new Error('boom');
      },
    });
    await expect(throwing.submit(1)).rejects.toThrow('boom');
    expect(throwing.idle).toBe(true);
  });

  it('lingers for company while items keep coming, never at a quiet moment, and not when it is full', async () => {
    const { groups, commit } = manual();
    const gc = new GroupCommit<number, string>({ commit, lingerMs: 30, maxBatch: 3 });
    // A quiet moment: no group has left lately, so the item leaves at the end of this turn.
    const first = gc.submit(0);
    await tick();
    expect(groups.map((g) => g.items)).toEqual([[0]]);
    groups[0]!.release();
    await first;
    await tick();
    // A group just left: the next item waits up to lingerMs for company.
    const a = gc.submit(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const b = gc.submit(2);
    expect(groups).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(groups.map((g) => g.items)).toEqual([[0], [1, 2]]);
    groups[1]!.release();
    await Promise.all([a, b]);
    await tick();
    // A full group does not wait for the linger time.
    const full = [3, 4, 5].map((i) => gc.submit(i));
    expect(groups.map((g) => g.items)).toEqual([[0], [1, 2], [3, 4, 5]]);
    groups[2]!.release();
    expect(await Promise.all(full)).toEqual(['done 3', 'done 4', 'done 5']);
  });
});
