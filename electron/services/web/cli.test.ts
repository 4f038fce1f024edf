// `npm run web -- --help` and a mistyped option answer with the usage, not a stack trace.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const repo = resolve(import.meta.dirname, "../../..");
const web = (args: string[]) =>
  spawnSync(process.execPath, [join(repo, "node_modules/tsx/dist/cli.mjs"), join(repo, "electron/services/web/cli.ts"), ...args], { encoding: "utf8", timeout: 60_000 });

describe("web mode command line", () => {
  it("prints its usage for --help and exits 0", () => {
    const r = web(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run web -- \[options\]/);
    expect(r.stdout).toMatch(/--model PATH/);
  });

  it("names an unknown option and shows the usage, without a stack trace", () => {
    const r = web(["--modle", "x"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/web mode: Unknown option '--modle'/);
    expect(r.stderr).toMatch(/Usage: npm run web/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses a hub URL that is not http(s), naming it", () => {
    const r = web(["--hub-url", "file:///etc/passwd"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/web mode: hub URL 'file:\/\/\/etc\/passwd': only http and https are allowed, not file:/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(web(["--hub-url", "not a url"]).stderr).toMatch(/hub URL 'not a url' is not a URL/);
  });
});
