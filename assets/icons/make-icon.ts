// Draws the app icon (512x512 PNG): a camera frustum over a point grid. Run: npx tsx assets/icons/make-icon.ts
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { encodePng } from "../sample/make-sample.js";

const N = 512;
const rgb = new Uint8Array(N * N * 3);
const set = (x: number, y: number, c: [number, number, number]) => {
  if (x < 0 || y < 0 || x >= N || y >= N) return;
  rgb.set(c, (y * N + x) * 3);
};
for (let y = 0; y < N; y++)
  for (let x = 0; x < N; x++) {
    const r = Math.hypot(x - N / 2, y - N / 2);
    set(x, y, r < 240 ? [27, 29, 35] : [0, 0, 0]);
  }
// Coloured "point cloud" dots.
for (let i = 0; i < 14; i++)
  for (let j = 0; j < 8; j++) {
    const cx = 100 + i * 23 + (j % 2) * 11;
    const cy = 300 + j * 18 - Math.round(20 * Math.sin(i / 3));
    const c: [number, number, number] = [80 + i * 12, 140 + j * 12, 255 - i * 10];
    for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) if (dx * dx + dy * dy <= 16) set(cx + dx, cy + dy, c);
  }
// Frustum lines.
const line = (x0: number, y0: number, x1: number, y1: number) => {
  const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0));
  for (let k = 0; k <= n; k++)
    for (let w = -3; w <= 3; w++) set(Math.round(x0 + ((x1 - x0) * k) / n) + w, Math.round(y0 + ((y1 - y0) * k) / n), [79, 140, 255]);
};
const apex: [number, number] = [256, 110];
line(...apex, 150, 250);
line(...apex, 362, 250);
line(150, 250, 362, 250);
writeFileSync(join(dirname(fileURLToPath(import.meta.url)), "icon.png"), encodePng(rgb, N, N));
