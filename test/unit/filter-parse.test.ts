import { describe, expect, it } from 'vitest';
import { InvalidFilter } from '../../src/domain/errors.js';
import { render } from '../../src/filter/ast.js';
import { parseFilter } from '../../src/filter/parse.js';
import { parseInstant } from '../../src/filter/values.js';

const where = (...exprs: string[]) => render(parseFilter({ where: exprs })!);
const json = (filter: unknown) => render(parseFilter({ filter })!);

describe('--where shorthand', () => {
  it.each([
    ['tag=foo', 'tag = "foo"'],
    ['tags=foo', 'tags = "foo"'],
    ['lang=en', 'lang = "en"'],
    ['lang!=en', 'lang != "en"'],
    ['lang=en,de', 'lang IN ["en", "de"]'],
    ['lang!=en,de', 'lang NOT IN ["en", "de"]'],
    ['year>=2020', 'year >= 2020'],
    ['year<2000', 'year < 2000'],
    ['year>1.5e3', 'year > 1500'],
    ['score<=-0.5', 'score <= -0.5'],
    ['has:author', 'HAS author'],
    ['!has:author', 'NOT HAS author'],
    ['created_after=2024-01-01', 'created_at > 2024-01-01T00:00:00.000Z'],
    ['created_before=2024-06-30T12:00:00+02:00', 'created_at < 2024-06-30T10:00:00.000Z'],
    ['updated_after=2024-01-01', 'updated_at > 2024-01-01T00:00:00.000Z'],
    ['updated_before=2024-01-01', 'updated_at < 2024-01-01T00:00:00.000Z'],
    ['date>=2024-03-01', 'date >= 2024-03-01T00:00:00.000Z'],
    ['title~vector', 'title CONTAINS "vector"'],
    ['zip="02134"', 'zip = "02134"'],
    ['zip=02134', 'zip = "02134"'],
    ['title="a, b"', 'title = "a, b"'],
    ['lang="en","de"', 'lang IN ["en", "de"]'],
    ['draft=true', 'draft = true'],
    ['author=null', 'author = null'],
    ['author="null"', 'author = "null"'],
    ['author.name=Ada', 'author.name = "Ada"'],
    ['metadata.id=7', 'metadata.id = 7'],
    ['id=chk_0123456789abcdef', 'id = "chk_0123456789abcdef"'],
    ['doc.author=Ada', 'doc.author = "Ada"'],
    ['"a.b".c=1', '"a.b".c = 1'],
    ['  lang = en  ', 'lang = "en"'],
  ])('%s', (expr, rendered) => {
    expect(where(expr)).toBe(rendered);
  });

  it('repeated --where is AND, and ANDs with --filter', () => {
    expect(where('lang=en', 'year>=2020')).toBe('(lang = "en" AND year >= 2020)');
    expect(render(parseFilter({ filter: '{"a": 1}', where: ['b=2'] })!)).toBe('(a = 1 AND b = 2)');
  });

  it('resolves fields to the subject: metadata under m, built-ins at the top, doc metadata under d', () => {
    const steps = (expr: string) => {
      const f = parseFilter({ where: [expr] })!;
      return f.kind === 'eq' || f.kind === 'exists' ? f.path.steps : null;
    };
    expect(steps('lang=en')).toEqual(['m', 'lang']);
    expect(steps('metadata.tags=x')).toEqual(['m', 'tags']);
    expect(steps('"tags"=x')).toEqual(['m', 'tags']);
    expect(steps('tag=x')).toEqual(['tags']);
    expect(steps('doc_id=x')).toEqual(['doc_id']);
    expect(steps('doc.a.b=x')).toEqual(['d', 'a', 'b']);
    expect(steps('has:a.b')).toEqual(['m', 'a', 'b']);
  });

  it.each([
    ['', 'is empty'],
    ['lang', 'has no operator'],
    ['=en', 'has no field before "="'],
    ['lang=', 'has no value after "="'],
    ['lang==en', '"==" is not an operator'],
    ['year=>2020', '"=>" is not an operator'],
    ['year>=abc', '">=" takes a number or an ISO-8601 date, got "abc"'],
    ['year>="2020"', '">=" takes a number or an ISO-8601 date, got "2020"'],
    ['year>=1,2', '">=" takes one value'],
    ['lang=en,', 'ends with a comma'],
    ['lang=en,,de', 'has an empty value'],
    ['title="open', 'unterminated quote'],
    ['title="a"b', 'text after the quoted value'],
    ['has:', 'has: needs a field'],
    ['created_after=yesterday', 'created_after takes one ISO-8601 date'],
    ['created_after>2024-01-01', 'created_after takes "="'],
    ['date>=2024-02-30', 'takes a number or an ISO-8601 date'],
    ['a..b=1', 'has an empty key'],
    ['tags.x=1', 'tags has no fields below it'],
    ['metadata=1', '"metadata" needs a key'],
    ['doc=1', '"doc" needs a key'],
  ])('refuses %j: %s', (expr, message) => {
    let err: unknown;
    try {
      parseFilter({ where: [expr] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidFilter);
    expect((err as InvalidFilter).display).toContain(message);
    // The offending expression is quoted.
    expect((err as InvalidFilter).display).toContain(`--where ${JSON.stringify(expr)}`);
  });
});

describe('JSON filters', () => {
  it.each<[unknown, string]>([
    [{}, 'TRUE'],
    [{ year: 2021, lang: 'en' }, '(year = 2021 AND lang = "en")'],
    [{ lang: { $eq: 'en' } }, 'lang = "en"'],
    [{ lang: { $ne: 'en' } }, 'lang != "en"'],
    [{ year: { $gte: 2020, $lt: 2025 } }, 'year >= 2020 AND year < 2025'],
    [{ date: { $gt: '2024-01-01' } }, 'date > 2024-01-01T00:00:00.000Z'],
    [{ lang: { $in: ['en', 'de'] } }, 'lang IN ["en", "de"]'],
    [{ lang: { $nin: [] } }, 'lang NOT IN []'],
    [{ author: { $exists: true } }, 'HAS author'],
    [{ author: { $exists: false } }, 'NOT HAS author'],
    [{ tags: { $contains: 'faq' } }, 'tags CONTAINS "faq"'],
    [{ year: { $not: { $gt: 2020 } } }, 'NOT year > 2020'],
    [{ $or: [{ lang: 'en' }, { lang: 'de' }] }, '(lang = "en" OR lang = "de")'],
    [{ $and: [{ a: 1 }, { $and: [{ b: 2 }] }] }, '(a = 1 AND b = 2)'],
    [{ $not: { lang: 'en' } }, 'lang != "en"'],
    [{ author: { name: 'Ada', born: { $lt: 1900 } } }, '(author.name = "Ada" AND author.born < 1900)'],
    [{ 'author.name': 'Ada' }, 'author.name = "Ada"'],
    [{ a: { 'b.c': 1 } }, 'a."b.c" = 1'],
    [{ n: null }, 'n = null'],
    [{ created_at: { $gte: '2024-01-01T00:00:00Z' } }, 'created_at >= 2024-01-01T00:00:00.000Z'],
  ])('%j', (filter, rendered) => {
    expect(json(filter)).toBe(rendered);
    expect(json(JSON.stringify(filter))).toBe(rendered);
  });

  it.each<[unknown, string]>([
    ['{bad', 'filter is not valid JSON'],
    [[1], 'must be a JSON object'],
    ['"lang"', 'must be a JSON object'],
    [{ year: { $gtt: 1 } }, '{"year":{"$gtt":1}}: unknown operator "$gtt"'],
    [{ $nor: [] }, 'unknown operator "$nor"'],
    [{ year: { $gt: '2020' } }, '$gt takes a number or an ISO-8601 date, got "2020" (to compare numbers write 2020 without quotes)'],
    [{ year: { $gt: 'abc' } }, 'strings are not ordered'],
    [{ year: { $gt: true } }, '$gt takes a number or an ISO-8601 date'],
    [{ tags: ['a', 'b'] }, 'a list needs an operator'],
    [{ lang: { $in: 'en' } }, '$in takes a list'],
    [{ lang: { $in: [['en']] } }, '$in takes a list'],
    [{ lang: { $eq: { a: 1 } } }, '$eq takes a string, number, boolean or null'],
    [{ lang: { $exists: 1 } }, '$exists takes true or false'],
    [{ $or: [] }, '$or takes a non-empty list'],
    [{ $and: {} }, '$and takes a non-empty list'],
    [{ $or: [1] }, 'item 1 must be a filter object'],
    [{ $not: [] }, '$not takes a filter object'],
    [{ year: { $not: 2020 } }, '$not on a field takes operators'],
    [{ lang: {} }, 'an empty object is not a condition'],
    [{ lang: { $eq: 'en', x: 1 } }, 'mixes operators and keys'],
    [{ tags: { x: 1 } }, 'tags has no fields below it'],
    [{ '': 1 }, 'is empty'],
    [JSON.parse(`${'{"$not":'.repeat(65)}{}${'}'.repeat(65)}`), 'nested deeper than 64 levels'],
  ])('refuses %j', (filter, message) => {
    expect(() => parseFilter({ filter })).toThrow(InvalidFilter);
    try {
      parseFilter({ filter });
    } catch (e) {
      expect((e as InvalidFilter).display).toContain(message);
    }
  });

  it('gives no filter when neither part is there', () => {
    expect(parseFilter({})).toBeNull();
    expect(parseFilter({ where: [] })).toBeNull();
  });
});

describe('ISO-8601 instants', () => {
  it.each<[string, number | null]>([
    ['2024-01-01', Date.UTC(2024, 0, 1)],
    ['2024-01-01T10:30', Date.UTC(2024, 0, 1, 10, 30)],
    ['2024-01-01t10:30:05z', Date.UTC(2024, 0, 1, 10, 30, 5)],
    ['2024-01-01 10:30:05.25+02:00', Date.UTC(2024, 0, 1, 8, 30, 5, 250)],
    ['2024-01-01T00:00:00.0005Z', Date.UTC(2024, 0, 1) + 0.5],
    ['2023-12-31T23:00:00-0100', Date.UTC(2024, 0, 1)],
    ['2024-02-29', Date.UTC(2024, 1, 29)],
    ['0099-05-01', new Date('0099-05-01T00:00:00Z').getTime()],
    ['2023-02-29', null],
    ['2024-13-01', null],
    ['2024-01-01T24:00', null],
    ['2024-01-01Z', null],
    ['2024-1-1', null],
    ['2020', null],
    ['20240101', null],
  ])('%s', (s, ms) => {
    expect(parseInstant(s)).toBe(ms);
  });
});
