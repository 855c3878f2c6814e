import type { FilterInput } from '../../filter/parse.js';

/** The filter options of a command, as the service takes them (it parses and checks them). */
export function filterOptions(o: { where?: string[]; filter?: string }): FilterInput {
  return { where: o.where, filter: o.filter };
}

/** What every command with --where and --filter prints in its help. */
export const FILTER_HELP = `
Filters (--where, repeatable, all must hold; --filter JSON; both together are ANDed):
  tag=foo  lang=en  lang!=en  lang=en,de  year>=2020  year<2000  title~word  has:author  !has:author
  created_after=2024-01-01  created_before=2024-06-30T12:00:00Z  updated_after=…  doc.author=Ada
  {"year": 2021, "lang": "en"}  {"$or": [{"lang": "en"}, {"tags": {"$contains": "faq"}}]}  {"year": {"$gte": 2020, "$lt": 2025}}
  Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $contains $and $or $not. Fields: metadata keys (or metadata.KEY,
  dotted paths into nested objects), tags, id, doc_id, created_at, updated_at, doc.KEY. Types are strict: 2020 never
  equals "2020"; ISO-8601 dates compare as instants. See README "Filters".
`;
