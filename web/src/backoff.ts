// How long to wait before trying again after the n-th failure in a row (n from 1): the first
// wait, doubled each time up to a ceiling, each spread by ±30 %. Without the spread, every
// client of a restarted server asks again in the same instant, and without the growth a
// server still behind keeps receiving them as fast as before.
export const JITTER = 0.3;

export function backoffMs(
  failures: number,
  firstMs: number,
  mostMs: number,
  random: () => number = Math.random,
): number {
  const grown = Math.min(mostMs, firstMs * 2 ** Math.max(0, failures - 1));
  return Math.round(grown * (1 - JITTER + 2 * JITTER * random()));
}
