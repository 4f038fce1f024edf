// From predicted tracks to the sparse model bundle adjustment refines: keep the observations the track
// head calls visible and confident, triangulate each track from the feed-forward cameras (DLT), drop
// observations that do not reproject within a few pixels and tracks seen from too small a baseline.
// Refuses, saying what to do, when some image keeps too few observations: BA on such an image is
// unconstrained (the official demo's "not enough inliers per frame").
import { cameraCenter, type Vec3 } from "../export/camera-math.js";
import { TooFewTracksError } from "./errors.js";
import type { Observation, SparseCamera, SparseImage, SparseModel, SparsePoint } from "./sparse-model.js";
import { reproject } from "./sparse-model.js";
import { maxRayAngleDeg, triangulateDLT, type ViewObservation } from "./triangulate.js";

/** Tracks of N query points through S images, in original-image pixels (corner convention). */
export interface TrackSet {
  S: number;
  N: number;
  /** [S, N, 2] */
  xy: Float64Array;
  /** [S, N] visibility and confidence in [0, 1]. */
  vis: Float32Array;
  conf: Float32Array;
  /** [N, 3] colour of each query point. */
  rgb: Uint8Array;
}

export interface TrackFilter {
  /** The official demo's vis_thresh is 0.2. */
  minVisibility: number;
  minConfidence: number;
  /** Inlier threshold on the reprojection error with the feed-forward cameras (official: 8 px). */
  maxReprojectionPx: number;
  minRayAngleDeg: number;
  /** Observations every image needs for BA to constrain its pose. */
  minObservationsPerImage: number;
}

export const DEFAULT_TRACK_FILTER: TrackFilter = {
  minVisibility: 0.2,
  minConfidence: 0.2,
  maxReprojectionPx: 8,
  minRayAngleDeg: 1,
  minObservationsPerImage: 16,
};

export interface TrackModelReport {
  tracks: number;
  kept: number;
  dropped: { tooFewVisible: number; degenerate: number; reprojection: number; smallAngle: number };
  observationsPerImage: number[];
}

const ADVICE =
  "What you can do: query more points (--queries, e.g. 2048); use frames that overlap more (fewer, closer views); use the real VGGT-1B weights (with random weights tracks are meaningless); or keep the feed-forward cameras, which need no refinement step.";

/** `images[s]` is the image of track frame s. */
export function buildTrackModel(
  cameras: SparseCamera[],
  images: SparseImage[],
  tracks: TrackSet,
  filter: TrackFilter = DEFAULT_TRACK_FILTER,
): { model: SparseModel; report: TrackModelReport } {
  const { S, N } = tracks;
  if (images.length !== S) throw new Error(`internal: ${images.length} images for tracks over ${S} frames`);
  const camOf = new Map(cameras.map((c) => [c.id, c]));
  const centers = images.map((im) => cameraCenter(im.R, im.t));
  const report: TrackModelReport = {
    tracks: N,
    kept: 0,
    dropped: { tooFewVisible: 0, degenerate: 0, reprojection: 0, smallAngle: 0 },
    observationsPerImage: new Array(S).fill(0),
  };
  const points: SparsePoint[] = [];
  for (let n = 0; n < N; n++) {
    const candidates: number[] = [];
    for (let s = 0; s < S; s++) {
      const k = s * N + n;
      if (tracks.vis[k] >= filter.minVisibility && tracks.conf[k] >= filter.minConfidence) candidates.push(s);
    }
    if (candidates.length < 2) {
      report.dropped.tooFewVisible++;
      continue;
    }
    const view = (s: number): ViewObservation => ({ cam: camOf.get(images[s].cameraId)!, im: images[s], x: tracks.xy[2 * (s * N + n)], y: tracks.xy[2 * (s * N + n) + 1] });
    const inliersOf = (p: Vec3) =>
      candidates.filter((s) => {
        const v = view(s);
        const [x, y, z] = reproject(v.cam, v.im, p);
        return z > 0 && Math.hypot(x - v.x, y - v.y) <= filter.maxReprojectionPx;
      });
    let frames = candidates;
    let X: Vec3 | null = triangulateDLT(frames.map(view));
    // Re-estimate from the inliers (one bad observation drags the all-view estimate away), then
    // test every candidate again against the better point.
    for (let pass = 0; pass < 3 && X; pass++) {
      const inliers = inliersOf(X);
      if (inliers.length === frames.length && inliers.every((s, i) => s === frames[i])) break;
      frames = inliers;
      X = frames.length >= 2 ? triangulateDLT(frames.map(view)) : null;
    }
    if (!X) {
      if (frames.length < 2) report.dropped.reprojection++;
      else report.dropped.degenerate++;
      continue;
    }
    const Xf = X;
    const final = inliersOf(Xf);
    if (final.length < 2) {
      report.dropped.reprojection++;
      continue;
    }
    if (maxRayAngleDeg(Xf, final.map((s) => centers[s])) < filter.minRayAngleDeg) {
      report.dropped.smallAngle++;
      continue;
    }
    const obs: Observation[] = final.map((s) => ({ imageId: images[s].id, x: tracks.xy[2 * (s * N + n)], y: tracks.xy[2 * (s * N + n) + 1] }));
    for (const s of final) report.observationsPerImage[s]++;
    points.push({ xyz: Xf, rgb: [tracks.rgb[3 * n], tracks.rgb[3 * n + 1], tracks.rgb[3 * n + 2]], obs });
  }
  report.kept = points.length;
  const weak = report.observationsPerImage.map((c, s) => [c, s]).filter(([c]) => c < filter.minObservationsPerImage);
  if (weak.length) {
    const list = weak
      .slice(0, 6)
      .map(([c, s]) => `${images[s].name} has ${c}`)
      .join(", ");
    const d = report.dropped;
    throw new TooFewTracksError(
      `too few tracks survived for bundle adjustment: ${list} observation(s), each image needs at least ${filter.minObservationsPerImage} ` +
        `(${N} tracks queried, ${points.length} kept; dropped: ${d.tooFewVisible} visible in fewer than 2 images ` +
        `(visibility >= ${filter.minVisibility}, confidence >= ${filter.minConfidence}), ${d.reprojection} off by more than ${filter.maxReprojectionPx} px from the ` +
        `feed-forward cameras, ${d.smallAngle} seen under less than ${filter.minRayAngleDeg} degree(s), ${d.degenerate} degenerate). ${ADVICE}`,
    );
  }
  return { model: { cameras, images, points }, report };
}
