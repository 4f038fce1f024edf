// How a long sequence is cut into overlapping chunks, each one normal engine pass.
export interface ChunkSpan {
  index: number;
  /** First and last frame (inclusive) of the whole sequence that this chunk runs. */
  first: number;
  last: number;
  /** First frame this chunk contributes to the merged output; frames before it (the overlap with
   *  the previous chunk) are taken from the previous chunk, which is already placed. */
  firstNew: number;
}

export class ChunkPlanError extends Error {}

/** Chunks of `size` frames, each sharing `overlap` frames with the previous one; the last chunk
 *  ends at the last frame (it may be shorter). One chunk when size >= frames. */
export function planChunks(frames: number, size: number, overlap: number): ChunkSpan[] {
  if (!Number.isSafeInteger(frames) || frames < 1) throw new ChunkPlanError(`chunking needs at least one frame, got ${frames}`);
  if (!Number.isSafeInteger(size) || size < 2) throw new ChunkPlanError(`chunk size must be an integer of at least 2 frames, got ${size}`);
  if (size >= frames) return [{ index: 0, first: 0, last: frames - 1, firstNew: 0 }];
  if (!Number.isSafeInteger(overlap) || overlap < 1 || overlap >= size)
    throw new ChunkPlanError(`chunk overlap must be an integer from 1 to ${size - 1} (the chunk size minus one): the chunks are aligned on the frames they share; got ${overlap}`);
  const step = size - overlap;
  const spans: ChunkSpan[] = [];
  for (let first = 0; ; first += step) {
    const last = Math.min(first + size - 1, frames - 1);
    spans.push({ index: spans.length, first, last, firstNew: spans.length ? first + overlap : 0 });
    if (last === frames - 1) break;
  }
  return spans;
}
