/** The one place for size limits, error one-liners and log redaction. */
import { describe, expect, it } from 'vitest';
import { InvalidInput, NotFound, oneLine } from '../../src/domain/errors.js';
import { checkMetadata, checkName, checkText, LIMITS, metadataProblem, nestingDepth } from '../../src/domain/validate.js';
import { redactQuery } from '../../src/server/app.js';
import { describeIoError } from '../../src/store/io.js';

function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

describe('metadata limits', () => {
  it('takes metadata nested exactly to the limit and refuses one level more, objects and arrays alike', () => {
    expect(nestingDepth(nested(LIMITS.metadataDepth), 100)).toBe(LIMITS.metadataDepth);
    expect(checkMetadata(nested(LIMITS.metadataDepth))).toBeDefined();
    expect(() => checkMetadata(nested(LIMITS.metadataDepth + 1))).toThrow(InvalidInput);
    expect(metadataProblem({ list: [[[[1]]]] })).toBeNull();
    const arrays = JSON.parse(`{"x": ${'['.repeat(LIMITS.metadataDepth)}${']'.repeat(LIMITS.metadataDepth)}}`);
    expect(metadataProblem(arrays)).toMatch(/nested more than 32 levels deep/);
  });

  it('checks any depth without recursion, and names where it went wrong', () => {
    const deep = JSON.parse(`${'{"k":'.repeat(200_000)}1${'}'.repeat(200_000)}`);
    expect(metadataProblem(deep)).toMatch(/^metadata is nested more than 32 levels deep \(at metadata\.k\.k/);
    expect(nestingDepth(deep, 40)).toBe(41);
  });

  it('bounds keys, strings, tags and texts', () => {
    expect(metadataProblem({ ['k'.repeat(LIMITS.keyChars)]: 1 })).toBeNull();
    expect(metadataProblem({ ['k'.repeat(LIMITS.keyChars + 1)]: 1 })).toMatch(/has a key of 1025 characters/);
    expect(metadataProblem({ a: ['x'.repeat(LIMITS.stringChars + 1)] })).toMatch(/^metadata\.a\[0\] is a string of 1048577 characters/);
    expect(() => checkText('x'.repeat(LIMITS.textChars + 1))).toThrow(/text has 16777217 characters, more than 16777216/);
  });

  it('refuses library names in the form of library ids', () => {
    expect(() => checkName('lib_0123456789abcdef')).toThrow(/has the form of a library id/);
    expect(checkName('lib_notanid')).toBe('lib_notanid');
  });
});

describe('one-line messages', () => {
  it('escapes line breaks and other control characters', () => {
    expect(oneLine('a\nb\r\tc\u0000\u001b[31m\u2028')).toBe('a\\nb\\r\\tc\\u0000\\u001b[31m\\u2028');
    expect(new NotFound('chunk "x\ny" not found', { hint: 'see\nlist' }).display).toBe('chunk "x\\ny" not found (see\\nlist)');
  });

  it('does not repeat the errno of a file-system error', () => {
    const err = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(describeIoError(err)).toBe('ENOSPC: no space left on device, write');
    expect(describeIoError(Object.assign(new Error('disk on fire'), { code: 'EIO' }))).toBe('EIO: disk on fire');
  });
});

describe('request log redaction', () => {
  it('hides the values of credential-like query parameters and keeps the rest', () => {
    expect(redactQuery('/api/v1/libraries?api_key=s3cret&offset=10')).toBe('/api/v1/libraries?api_key=[REDACTED]&offset=10');
    expect(redactQuery('/x?Token=a&access%5Ftoken=b&limit=5&password=c&sig=d')).toBe('/x?Token=[REDACTED]&access%5Ftoken=[REDACTED]&limit=5&password=[REDACTED]&sig=[REDACTED]');
    expect(redactQuery('/x')).toBe('/x');
  });
});
