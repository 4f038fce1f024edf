// Progress smoothing/rendering and the platform folder conventions.
import { describe, expect, it } from "vitest";
import { appCacheDir, appDataDir, hfHubCacheDir, manualModelsDir, repoFolderName, type PlatformInfo } from "./paths.js";
import { ProgressMeter, cliProgressRenderer, formatDuration, formatProgressLine, type ProgressEvent } from "./progress.js";

describe("ProgressMeter", () => {
  it("smooths the speed (time constant 3 s) and derives the ETA from it", () => {
    let t = 0;
    const events: ProgressEvent[] = [];
    const m = new ProgressMeter("download", "f", 100e6, 0, (e) => events.push(e), () => t);
    for (let i = 0; i < 50; i++) {
      t += 100; // 1 MB per 100 ms = 10 MB/s
      m.add(1e6);
    }
    let last = events.at(-1)!;
    expect(last.speed).toBeCloseTo(10e6, -3); // exact: a constant rate stays constant
    expect(last.etaSeconds).toBeCloseTo(5, 2); // 50 MB left at 10 MB/s
    // Rate drops to 1 MB/s: the smoothed speed moves towards it gradually, not in one jump.
    for (let i = 0; i < 10; i++) {
      t += 100;
      m.add(1e5);
    }
    last = events.at(-1)!;
    const expected = 1e6 + 9e6 * Math.exp(-1 / 3); // after 1 s: 1 - exp(-dt/tau) of the way
    expect(Math.abs(last.speed - expected) / expected).toBeLessThan(1e-9);
    m.finish();
    expect(events.at(-1)!.done).toBe(true);
  });

  it("throttles events to the interval", () => {
    let t = 0;
    let n = 0;
    const m = new ProgressMeter("download", "f", 1e6, 0, () => n++, () => t, 100);
    for (let i = 0; i < 1000; i++) {
      t += 1;
      m.add(10);
    }
    expect(n).toBeGreaterThanOrEqual(9);
    expect(n).toBeLessThanOrEqual(11);
  });
});

describe("rendering", () => {
  const ev: ProgressEvent = { phase: "download", file: "model.safetensors", bytes: 2.5e9, total: 5e9, speed: 25e6, etaSeconds: 100, done: false };
  it("formats bytes, percent, speed and ETA", () => {
    expect(formatProgressLine(ev)).toBe("downloading model.safetensors  50.0% 2.50 GB / 5.00 GB  25.0 MB/s  ETA 01:40");
    expect(formatProgressLine(ev, 10)).toContain("[#####-----]");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(null)).toBe("--:--");
  });
  it("redraws one line on a TTY; prints plain lines (every 10 % or on phase change) otherwise", () => {
    let tty = "";
    const r1 = cliProgressRenderer({ write: (s) => (tty += s), isTTY: true, columns: 120 });
    r1(ev);
    r1({ ...ev, bytes: 5e9, done: true });
    expect(tty.startsWith("\r\x1b[2K")).toBe(true);
    expect(tty.endsWith("\n")).toBe(true);
    expect(tty.split("\n").length).toBe(2);
    let plain = "";
    const r2 = cliProgressRenderer({ write: (s) => (plain += s), isTTY: false });
    for (let b = 0; b <= 5e9; b += 1e8) r2({ ...ev, bytes: b, done: b === 5e9 });
    const lines = plain.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.length).toBeLessThanOrEqual(12);
    expect(plain).not.toContain("\r");
  });
});

describe("paths", () => {
  const linux: PlatformInfo = { platform: "linux", env: {}, home: "/home/u" };
  const mac: PlatformInfo = { platform: "darwin", env: {}, home: "/Users/u" };
  const win: PlatformInfo = { platform: "win32", env: { USERPROFILE: "C:\\Users\\u", LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local", APPDATA: "C:\\Users\\u\\AppData\\Roaming" }, home: "C:\\Users\\u" };
  it("HF cache: HF_HUB_CACHE > HF_HOME/hub > XDG_CACHE_HOME > ~/.cache, like huggingface_hub", () => {
    expect(hfHubCacheDir(linux)).toBe("/home/u/.cache/huggingface/hub");
    expect(hfHubCacheDir(mac)).toBe("/Users/u/.cache/huggingface/hub");
    expect(hfHubCacheDir(win)).toBe("C:\\Users\\u\\.cache\\huggingface\\hub");
    expect(hfHubCacheDir({ ...linux, env: { XDG_CACHE_HOME: "/x" } })).toBe("/x/huggingface/hub");
    expect(hfHubCacheDir({ ...linux, env: { HF_HOME: "~/hf", XDG_CACHE_HOME: "/x" } })).toBe("/home/u/hf/hub");
    expect(hfHubCacheDir({ ...linux, env: { HF_HUB_CACHE: "/c", HF_HOME: "/h" } })).toBe("/c");
  });
  it("app cache and data folders follow each platform", () => {
    expect(appCacheDir(linux)).toBe("/home/u/.cache/vggt-workbench");
    expect(appCacheDir(mac)).toBe("/Users/u/Library/Caches/vggt-workbench");
    expect(appCacheDir(win)).toBe("C:\\Users\\u\\AppData\\Local\\vggt-workbench\\Cache");
    expect(manualModelsDir(linux)).toBe("/home/u/.local/share/vggt-workbench/models");
    expect(manualModelsDir(mac)).toBe("/Users/u/Library/Application Support/vggt-workbench/models");
    expect(manualModelsDir(win)).toBe("C:\\Users\\u\\AppData\\Roaming\\vggt-workbench\\models");
    expect(appDataDir({ ...linux, env: { VGGT_WORKBENCH_DATA: "/d" } })).toBe("/d");
    expect(repoFolderName("facebook/VGGT-1B")).toBe("models--facebook--VGGT-1B");
  });
});
