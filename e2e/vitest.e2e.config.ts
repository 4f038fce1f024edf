// End-to-end suite: web mode + real engine + Debian's Chromium. Slow (a real reconstruction),
// so it has its own config and is not part of the unit-test run.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.test.ts"],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    fileParallelism: false,
    reporters: ["verbose"],
  },
});
