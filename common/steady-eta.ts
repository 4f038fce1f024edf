// A remaining-time estimate that does not jump: shared by run progress and benchmark progress.
/**
 * Seconds left, steady: the prediction's remaining share blended into the observed rate as the job
 * advances (the prediction alone at the start, the observed rate alone from 30 % on), and never more
 * than MAX_ETA_STEP above or below what the previous answer, counted down, predicted.
 */
export const MAX_ETA_STEP = 2;

export class SteadyEta {
  private last: { elapsed: number; eta: number } | null = null;

  eta(fraction: number, elapsedSeconds: number, predictedSeconds: number): number | null {
    const f = fraction;
    if (f >= 1) return 0;
    const prior = predictedSeconds > 0 ? predictedSeconds * (1 - f) : null;
    const observed = f >= 0.02 && elapsedSeconds > 1 ? (elapsedSeconds * (1 - f)) / f : null;
    let eta: number | null;
    if (observed === null) eta = prior;
    else if (prior === null) eta = observed;
    else {
      const w = Math.min(1, f / 0.3);
      eta = w * observed + (1 - w) * prior;
    }
    if (eta === null) return null;
    if (this.last) {
      const expected = Math.max(1, this.last.eta - (elapsedSeconds - this.last.elapsed));
      eta = Math.min(Math.max(eta, expected / MAX_ETA_STEP), expected * MAX_ETA_STEP);
    }
    this.last = { elapsed: elapsedSeconds, eta };
    return eta;
  }
}