import { describe, expect, it } from "vitest";
import { chunkColor, chunkColors, chunkOfFrame } from "./chunk-colors";

describe("colour by chunk", () => {
  const chunks: { frames: [number, number] }[] = [{ frames: [0, 4] }, { frames: [3, 8] }, { frames: [7, 9] }];
  it("gives shared frames to the earlier chunk, as the merge does", () => {
    expect([0, 3, 4, 5, 7, 8, 9, 10].map((f) => chunkOfFrame(f, chunks))).toEqual([0, 0, 0, 1, 1, 1, 2, -1]);
  });
  it("colours each point by its frame's chunk, distinct colours for neighbouring chunks", () => {
    const c = chunkColors(Uint16Array.from([0, 5, 9, 12]), chunks);
    expect(Array.from(c.subarray(0, 3))).toEqual(chunkColor(0));
    expect(Array.from(c.subarray(3, 6))).toEqual(chunkColor(1));
    expect(Array.from(c.subarray(6, 9))).toEqual(chunkColor(2));
    expect(Array.from(c.subarray(9, 12))).toEqual([128, 128, 128]);
    expect(chunkColor(0)).not.toEqual(chunkColor(1));
  });
});
