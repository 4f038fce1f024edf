// An engine runner for workbench tests that must never run the engine (scans, estimates, plans):
// any infer call fails the test.
import type { EngineState } from "../../ipc/types.js";
import type { EngineRunner } from "../runs/engine-runner.js";

export const idleEngine: EngineRunner = {
  state: (): EngineState => ({ state: "ready", binary: "fake", restarts: 0 }),
  onState: () => () => {},
  infer: async () => {
    throw new Error("no runs in this test");
  },
  dispose: async () => {},
};
