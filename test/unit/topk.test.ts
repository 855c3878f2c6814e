import { describe, expect, it } from 'vitest';
import { TopK } from '../../src/index/topk.js';

describe('TopK', () => {
  it('keeps the k smallest, ties to the smaller key, nearest first', () => {
    const top = new TopK(3);
    const items: [number, number][] = [[5, 0], [1, 1], [3, 2], [1, 3], [0.5, 4], [3, 5], [1, 6]];
    for (const [d, key] of items) top.push(d, key);
    const { keys, dists } = top.drain();
    expect(Array.from(keys)).toEqual([4, 1, 3]);
    expect(Array.from(dists)).toEqual([0.5, 1, 1]);
    expect(top.size).toBe(0);
  });

  it('reports +Infinity as worst until full, and handles k larger than the input', () => {
    const top = new TopK(5);
    top.push(2, 0);
    expect(top.worst()).toBe(Infinity);
    top.push(1, 1);
    const { keys } = top.drain();
    expect(Array.from(keys)).toEqual([1, 0]);
  });
});
