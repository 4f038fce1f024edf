import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["common/**/*.test.ts", "electron/**/*.test.ts", "renderer/**/*.test.{ts,tsx}", "scripts/**/*.test.ts"],
    exclude: ["e2e/**", "node_modules/**", "dist/**", "dist-electron/**"],
    // Real-tool tests (COLMAP, Open3D) and CLI spawns take a few seconds on the shared 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
