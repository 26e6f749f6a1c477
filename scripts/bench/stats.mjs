// Percentiles and rounding for the benchmarks' figures.
/** The p-th percentile (nearest rank) of `xs`; NaN when empty. */
export const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
export const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
