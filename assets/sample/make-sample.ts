// Renders the bundled sample: 4 views (518x350 PNG) of a small synthetic scene (checkerboard
// floor, three textured boxes, a sphere) with a tiny ray caster, so the app ships a multi-view
// set that is ours. Run: npx tsx assets/sample/make-sample.ts
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync } from "node:zlib";

type V = [number, number, number];
const add = (a: V, b: V): V => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const sub = (a: V, b: V): V => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const mul = (a: V, s: number): V => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a: V, b: V) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V, b: V): V => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: V): V => mul(a, 1 / Math.hypot(...a));

interface Hit {
  t: number;
  n: V;
  color: V;
}

interface Box {
  min: V;
  max: V;
  a: V;
  b: V;
}

const boxes: Box[] = [
  { min: [-1.6, 0, -0.6], max: [-0.6, 1.0, 0.4], a: [0.85, 0.25, 0.2], b: [0.95, 0.85, 0.3] },
  { min: [0.2, 0, -1.2], max: [1.0, 1.6, -0.4], a: [0.2, 0.45, 0.85], b: [0.9, 0.9, 0.95] },
  { min: [0.5, 0, 0.6], max: [1.3, 0.5, 1.4], a: [0.25, 0.7, 0.3], b: [0.1, 0.2, 0.1] },
];
const sphere = { c: [-0.3, 0.45, 1.2] as V, r: 0.45 };
const LIGHT = norm([0.5, 1.0, 0.35]);

function checker(u: number, v: number, size: number): boolean {
  return (Math.floor(u / size) + Math.floor(v / size)) % 2 === 0;
}

function hitBox(o: V, d: V, b: Box): Hit | null {
  let t0 = -Infinity;
  let t1 = Infinity;
  let axis = 0;
  for (let i = 0; i < 3; i++) {
    const inv = 1 / d[i];
    let ta = (b.min[i] - o[i]) * inv;
    let tb = (b.max[i] - o[i]) * inv;
    if (ta > tb) [ta, tb] = [tb, ta];
    if (ta > t0) {
      t0 = ta;
      axis = i;
    }
    t1 = Math.min(t1, tb);
  }
  if (t0 > t1 || t0 < 1e-4) return null;
  const p = add(o, mul(d, t0));
  const n: V = [0, 0, 0];
  n[axis] = d[axis] > 0 ? -1 : 1;
  // Checker on the face, in the two coordinates the face spans.
  const [i, j] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
  return { t: t0, n, color: checker(p[i] + 10, p[j] + 10, 0.2) ? b.a : b.b };
}

function hitSphere(o: V, d: V): Hit | null {
  const oc = sub(o, sphere.c);
  const bq = dot(oc, d);
  const disc = bq * bq - (dot(oc, oc) - sphere.r * sphere.r);
  if (disc < 0) return null;
  const t = -bq - Math.sqrt(disc);
  if (t < 1e-4) return null;
  const n = norm(sub(add(o, mul(d, t)), sphere.c));
  const stripes = Math.floor((Math.atan2(n[2], n[0]) / Math.PI) * 6 + 6) % 2 === 0;
  return { t, n, color: stripes ? [0.75, 0.3, 0.8] : [0.95, 0.6, 0.2] };
}

function trace(o: V, d: V): Hit | null {
  let best: Hit | null = null;
  if (d[1] < 0) {
    const t = -o[1] / d[1];
    const p = add(o, mul(d, t));
    if (Math.abs(p[0]) < 4 && Math.abs(p[2]) < 4) best = { t, n: [0, 1, 0], color: checker(p[0] + 10, p[2] + 10, 0.5) ? [0.9, 0.9, 0.88] : [0.3, 0.32, 0.36] };
  }
  for (const b of boxes) {
    const h = hitBox(o, d, b);
    if (h && (!best || h.t < best.t)) best = h;
  }
  const s = hitSphere(o, d);
  if (s && (!best || s.t < best.t)) best = s;
  return best;
}

function shade(o: V, d: V): V {
  const h = trace(o, d);
  if (!h) {
    const k = Math.max(0, d[1]);
    return [0.55 + 0.2 * k, 0.7 + 0.15 * k, 0.9];
  }
  const p = add(o, mul(d, h.t));
  const lit = Math.max(0, dot(h.n, LIGHT));
  const shadow = lit > 0 && trace(add(p, mul(h.n, 1e-3)), LIGHT) ? 0.35 : 1;
  return mul(h.color, 0.3 + 0.7 * lit * shadow);
}

function render(eye: V, target: V, W: number, H: number, hfovDeg: number): Uint8Array {
  const fwd = norm(sub(target, eye));
  const right = norm(cross(fwd, [0, 1, 0]));
  const up = cross(right, fwd);
  const f = W / 2 / Math.tan((hfovDeg * Math.PI) / 360);
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const acc: V = [0, 0, 0];
      // 2x2 supersampling against jagged edges.
      for (const [sx, sy] of [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]) {
        const u = x + sx - W / 2;
        const v = y + sy - H / 2;
        const d = norm(add(add(mul(right, u), mul(up, -v)), mul(fwd, f)));
        const c = shade(eye, d);
        acc[0] += c[0] / 4;
        acc[1] += c[1] / 4;
        acc[2] += c[2] / 4;
      }
      for (let c = 0; c < 3; c++) rgb[(y * W + x) * 3 + c] = Math.round(255 * Math.min(1, Math.pow(acc[c], 1 / 1.8)));
    }
  return rgb;
}

export function encodePng(rgb: Uint8Array, W: number, H: number): Buffer {
  const raw = Buffer.alloc(H * (1 + W * 3));
  for (let y = 0; y < H; y++) {
    raw[y * (1 + W * 3)] = 0;
    raw.set(rgb.subarray(y * W * 3, (y + 1) * W * 3), y * (1 + W * 3) + 1);
  }
  const chunk = (type: string, data: Buffer) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, "ascii");
    data.copy(out, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(W, 0);
  ihdr.writeUInt32BE(H, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const W = 518;
const H = 350;
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outDir = dirname(fileURLToPath(import.meta.url));
  const target: V = [0, 0.5, 0];
  [-35, -12, 12, 35].forEach((deg, i) => {
    const a = (deg * Math.PI) / 180;
    const eye: V = [4.2 * Math.sin(a), 2.0, 4.2 * Math.cos(a)];
    const png = encodePng(render(eye, target, W, H, 62), W, H);
    const file = join(outDir, `view-${i + 1}.png`);
    writeFileSync(file, png);
    console.log(`${file}: ${png.length} bytes`);
  });
}
