import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { VdbService } from '../../src/service/service.js';
import { tempDir } from '../helpers/cli.js';

describe('SnapshotStore in-process write queue', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('serializes concurrent writers of one process and survives a failed write', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, 'db.json');
    // Two services on one path share the queue, as two request handlers would.
    const a = new VdbService({ path });
    const b = new VdbService({ path });
    const names = Array.from({ length: 24 }, (_, i) => `lib${i}`);
    const results = await Promise.allSettled([
      ...names.map((name, i) => (i % 2 ? a : b).createLibrary({ name })),
      a.createLibrary({ name: 'lib0' }),
    ]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    const fresh = new VdbService({ path });
    expect(fresh.listLibraries().map((l) => l.name).sort()).toEqual([...names].sort());
    await a.createLibrary({ name: 'after' });
    expect(fresh.listLibraries()).toHaveLength(25);
  });
});
