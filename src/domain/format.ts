/**
 * Numbers in messages and plans. Plain string work, not Intl: building an
 * Intl formatter loads ICU data, ~40 ms of a cold process's start.
 */

/** An integer with thousands separators: 1234567 → "1,234,567". */
export function thousands(n: number): string {
  const s = String(Math.trunc(Math.abs(n)));
  let out = s.slice(0, ((s.length - 1) % 3) + 1);
  for (let i = out.length; i < s.length; i += 3) out += `,${s.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}

/** A share in [0, 1] as a percentage, two decimals below 1 %: 0.2 → "20.0%", 0.004 → "0.40%". */
export function percent(share: number): string {
  return `${(100 * share).toFixed(share > 0 && share < 0.01 ? 2 : 1)}%`;
}
