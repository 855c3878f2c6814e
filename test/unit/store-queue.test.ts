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

  it('with concurrent readers, a write never changes a database that read() handed out', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, 'db.json');
    const svc = new VdbService({ path, concurrentReaders: true });
    await svc.createLibrary({ name: 'docs' });
    await svc.addChunks('docs', [{ text: 'first' }]);
    const seen = svc.store.read();
    await svc.addChunks('docs', [{ text: 'second' }]);
    expect(seen.library('docs').size).toBe(1);
    expect(svc.store.read().library('docs').size).toBe(2);
    await expect(svc.addChunks('docs', [{ text: 'ok' }, { text: '' }])).rejects.toThrow(/text is empty/);
    expect(svc.store.read().library('docs').size).toBe(2);
  });
});
