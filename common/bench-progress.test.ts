import { describe, expect, it } from "vitest";

import { benchProgressText } from "./bench-progress.js";

describe("benchmark progress text", () => {
  it("turns the engine's run lines and header into sentences", () => {
    expect(benchProgressText("  A                        run 1/3: 3834 ms")).toBe("A: timed run 1 of 3 took 3.8 s");
    expect(benchProgressText("  + flash-attn  run 2/2: 28185 ms")).toBe("+ flash-attn: timed run 2 of 2 took 28.2 s");
    expect(benchProgressText("bench: ISA avx512 (hw: avx2 fma), /w/weights.safetensors, 1 frames 518x350")).toBe("benchmark started: 1 frame of 518x350, avx512 kernels");
  });

  it("keeps lines it does not know", () => {
    expect(benchProgressText("running A once more for its point cloud")).toBe("running A once more for its point cloud");
  });
});
