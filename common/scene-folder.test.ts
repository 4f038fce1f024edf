import { describe, expect, it } from "vitest";

import { hasImageExtension, pickFromRelativePaths, useImagesSubfolder } from "./scene-folder.js";

describe("scene folder layout", () => {
  it("recognises images by extension, case-insensitively", () => {
    expect(["a.png", "b.JPG", "c.jpeg"].every(hasImageExtension)).toBe(true);
    expect(["notes.txt", "png", "a.png.bak"].some(hasImageExtension)).toBe(false);
  });

  it("uses images/ only when the folder has no images of its own", () => {
    expect(useImagesSubfolder({ files: ["notes.txt"], folders: ["images", "sparse"] })).toBe(true);
    expect(useImagesSubfolder({ files: ["a.jpg"], folders: ["images"] })).toBe(false);
    expect(useImagesSubfolder({ files: [], folders: ["photos"] })).toBe(false);
  });

  it("picks root/images/* from a web folder pick of the demo layout and says so", () => {
    const picked = pickFromRelativePaths(["scene/readme.txt", "scene/images/1.jpg", "scene/images/2.jpg", "scene/images/deep/3.jpg", "scene/sparse/0/cameras.bin"], (p) => p);
    expect(picked.items).toEqual(["scene/images/1.jpg", "scene/images/2.jpg"]);
    expect(picked.note).toMatch(/“scene” holds no images of its own: using its images\/ subfolder/);
  });

  it("keeps a flat folder's own files (subfolders ignored, no note)", () => {
    const picked = pickFromRelativePaths(["f/a.png", "f/b.txt", "f/images/c.png"], (p) => p);
    expect(picked).toEqual({ items: ["f/a.png", "f/b.txt"] });
  });
});
