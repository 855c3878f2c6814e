import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { percent, thousands } from '../../src/domain/format.js';

describe('thousands', () => {
  it('groups as Intl en-US does, for every safe integer', () => {
    const intl = new Intl.NumberFormat('en-US');
    fc.assert(fc.property(fc.oneof(fc.integer({ min: -1e7, max: 1e7 }), fc.maxSafeInteger(), fc.constantFrom(0, 999, 1000, -1000, 999_999, 1_000_000)), (n) => {
      expect(thousands(n)).toBe(intl.format(n));
    }));
  });
});

describe('percent', () => {
  it('shows two decimals only below 1 %', () => {
    expect([0, 0.004, 0.01, 0.2, 1].map(percent)).toEqual(['0.0%', '0.40%', '1.0%', '20.0%', '100.0%']);
  });
});
