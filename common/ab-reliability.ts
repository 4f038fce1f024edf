// Is an A/B timing comparison trustworthy? Two sides that got different shares of the CPU (other
// load on the machine) or repeats that spread widely make the latency ratio say more about the
// machine than about the options. Pure: the performance lab's cards use it.

export interface AbSide {
  latency_ms: number[];
  /** Process CPU time of each repeat (the engine's own measurement); absent in old records. */
  cpu_ms?: number[];
}

export interface AbReliability {
  /** Cores each side used on average (CPU time / wall time, median over repeats); null when unknown. */
  coresA: number | null;
  coresB: number | null;
  /** Largest / smallest of the pairwise A/B ratios. */
  ratioSpread: number;
  reliable: boolean;
  reasons: string[];
}

/** Relative difference of the two sides' CPU shares above which the result is flagged. */
export const MAX_CPU_SHARE_DIFFERENCE = 0.2;
/** max / min of the interleaved pairs' ratios above which the result is flagged. */
export const MAX_RATIO_SPREAD = 1.25;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function cores(side: AbSide): number | null {
  if (!side.cpu_ms || side.cpu_ms.length !== side.latency_ms.length || side.latency_ms.length === 0) return null;
  return median(side.cpu_ms.map((c, i) => c / Math.max(1e-9, side.latency_ms[i])));
}

export function abReliability(a: AbSide, b: AbSide, pairRatios: number[]): AbReliability {
  const coresA = cores(a);
  const coresB = cores(b);
  const reasons: string[] = [];
  if (coresA !== null && coresB !== null) {
    const diff = Math.abs(coresA - coresB) / Math.max(coresA, coresB);
    if (diff > MAX_CPU_SHARE_DIFFERENCE)
      reasons.push(
        `the sides got different CPU shares (A ${coresA.toFixed(2)} cores, B ${coresB.toFixed(2)} cores on average): other load on the machine changed between them`,
      );
  }
  const finite = pairRatios.filter((r) => Number.isFinite(r) && r > 0);
  const ratioSpread = finite.length ? Math.max(...finite) / Math.min(...finite) : 1;
  if (ratioSpread > MAX_RATIO_SPREAD)
    reasons.push(`the interleaved pairs disagree (ratios ${Math.min(...finite).toFixed(2)}–${Math.max(...finite).toFixed(2)}): run more repeats on a quieter machine`);
  return { coresA, coresB, ratioSpread, reliable: reasons.length === 0, reasons };
}
