import { describe, expect, it } from "vitest";

import { parseCliArgs, UsageError } from "./registry.js";

describe("parseCliArgs", () => {
  const options = { out: { type: "string" }, force: { type: "boolean" } } as const;

  it("returns typed values and the positionals", () => {
    const { values, positionals } = parseCliArgs(["in.safetensors", "--out", "dir", "--force"], options);
    expect(values).toEqual({ out: "dir", force: true });
    expect(positionals).toEqual(["in.safetensors"]);
  });

  it("turns unknown options and missing values into a UsageError naming them", () => {
    expect(() => parseCliArgs(["--nope"], options)).toThrow(UsageError);
    expect(() => parseCliArgs(["--nope"], options)).toThrow(/--nope/);
    expect(() => parseCliArgs(["--out"], options)).toThrow(UsageError);
    expect(() => parseCliArgs(["--force=yes"], options)).toThrow(UsageError);
  });
});
