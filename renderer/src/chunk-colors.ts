// Colour-by-chunk for chunked runs: every point gets the colour of the chunk its frame was taken
// from (a shared frame belongs to the earlier chunk, as in the merge: services/chunking/merge.ts).
const PALETTE: [number, number, number][] = [
  [230, 25, 75],
  [60, 180, 75],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [0, 128, 128],
  [170, 110, 40],
];

/** The chunk that a frame was taken from: the first one whose range holds it (-1: none). */
export function chunkOfFrame(frame: number, chunks: { frames: [number, number] }[]): number {
  for (let i = 0; i < chunks.length; i++) if (frame >= chunks[i].frames[0] && frame <= chunks[i].frames[1]) return i;
  return -1;
}

export function chunkColor(index: number): [number, number, number] {
  return index < 0 ? [128, 128, 128] : PALETTE[index % PALETTE.length];
}

/** rgb per point (same layout as PointCloud.colors) from the points' frame indices. */
export function chunkColors(frame: Uint16Array, chunks: { frames: [number, number] }[]): Uint8Array {
  const maxFrame = chunks.reduce((m, c) => Math.max(m, c.frames[1]), 0);
  const byFrame = Array.from({ length: maxFrame + 1 }, (_, f) => chunkColor(chunkOfFrame(f, chunks)));
  const out = new Uint8Array(frame.length * 3);
  for (let i = 0; i < frame.length; i++) out.set(byFrame[frame[i]] ?? chunkColor(-1), 3 * i);
  return out;
}
