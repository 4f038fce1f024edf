// `npm run dist` packages with electron-builder and electron-builder.yml; forge.config.ts records
// the same choices for Electron Forge. This test keeps the two descriptions from drifting: it reads
// the YAML with the parser electron-builder itself uses and compares every shared field.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import forge from "../forge.config.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// js-yaml as electron-builder (app-builder-lib) loads it.
const builderRequire = createRequire(createRequire(join(root, "package.json")).resolve("app-builder-lib/package.json"));
const { load } = builderRequire("js-yaml") as { load: (text: string) => unknown };

interface BuilderYml {
  productName: string;
  executableName: string;
  asar: boolean;
  extraResources: { from: string; to: string }[];
  linux: { target: string[]; category: string; icon: string };
  deb: { depends: string[] };
}

describe("packaging", () => {
  const yml = load(readFileSync(join(root, forge.builderConfig), "utf8")) as BuilderYml;

  it("npm run dist uses the electron-builder file forge.config.ts names", () => {
    const dist = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts.dist as string;
    expect(dist).toContain(`electron-builder --config ${forge.builderConfig} `);
  });

  it("forge.config.ts and electron-builder.yml state the same name, archive, icon, resources and deb dependencies", () => {
    expect(yml.productName).toBe(forge.packagerConfig.name);
    expect(yml.executableName).toBe(forge.packagerConfig.executableName);
    expect(yml.asar).toBe(forge.packagerConfig.asar);
    expect(yml.linux.icon).toBe(forge.packagerConfig.icon);
    expect(yml.extraResources.map((r) => r.from)).toEqual(forge.packagerConfig.extraResource);
    const deb = forge.makers.find((m) => m.name === "@electron-forge/maker-deb")!;
    expect(yml.deb.depends).toEqual((deb.config as { options: { depends: string[]; categories: string[] } }).options.depends);
    expect([yml.linux.category]).toEqual((deb.config as { options: { categories: string[] } }).options.categories);
    expect(yml.linux.target).toEqual(["AppImage", "deb"]);
  });
});
