// Test helper: small generated checkpoints (safetensors and PyTorch-style zips) for the validation,
// resolve and CLI tests.
import { deflateRawSync } from "node:zlib";
import { crc32 } from "node:zlib";
import { writeFileSync } from "node:fs";
import { encodeSafetensors, type TensorToWrite } from "../tensors/safetensors.js";
import { vggtParamSpecs, type VggtConfig } from "./vggt-params.js";

/** A tiny config of the full architecture (track head included), ~100 K parameters. */
export const MICRO_CONFIG: VggtConfig = {
  img_size: 28,
  patch_size: 14,
  embed_dim: 16,
  depth: 2,
  num_heads: 2,
  encoder: { depth: 1, num_heads: 2 },
  num_register_tokens: 4,
  mlp_ratio: 4,
  qk_norm: true,
  camera: { trunk_depth: 1, num_heads: 2 },
  dpt: { features: 8, out_channels: [4, 8, 16, 16], intermediate_layer_idx: [0, 1, 1, 1] },
  track: { enabled: true, features: 8, hidden_size: 16, depth: 1, num_virtual_tracks: 4 },
};

export type Mutation = (t: Record<string, TensorToWrite>) => void;

export function checkpointBytes(cfg: VggtConfig = MICRO_CONFIG, mutate?: Mutation): Buffer {
  const tensors: Record<string, TensorToWrite> = {};
  let k = 0;
  for (const s of vggtParamSpecs(cfg)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = Math.sin(++k); // deterministic, non-trivial
    tensors[s.name] = { dtype: "F32", shape: s.shape, data: d };
  }
  mutate?.(tensors);
  return encodeSafetensors(tensors, { format: "pt" });
}

export function writeCheckpoint(path: string, cfg: VggtConfig = MICRO_CONFIG, mutate?: Mutation): Buffer {
  const b = checkpointBytes(cfg, mutate);
  writeFileSync(path, b);
  return b;
}

/** A zip like torch.save writes (stored entries under one folder), optionally with ZIP64 records. */
export function zipBytes(entries: { name: string; data: Buffer }[], opts: { zip64?: boolean; deflate?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = opts.deflate ? deflateRawSync(e.data) : e.data;
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    local.writeUInt16LE(opts.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    parts.push(local, name, body);
    const extra = Buffer.alloc(opts.zip64 ? 12 : 0);
    if (opts.zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(8, 2);
      extra.writeBigUInt64LE(BigInt(offset), 4);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    c.writeUInt16LE(opts.zip64 ? 45 : 20, 6);
    c.writeUInt16LE(opts.deflate ? 8 : 0, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(extra.length, 30);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
    central.push(c, name, extra);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const tail: Buffer[] = [];
  if (opts.zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeUInt16LE(45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(entries.length), 24);
    z.writeBigUInt64LE(BigInt(entries.length), 32);
    z.writeBigUInt64LE(BigInt(cd.length), 40);
    z.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(z, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 16);
  return Buffer.concat([...parts, cd, ...tail, eocd]);
}

/** A stand-in for a torch.save zip: the layout only (the pickle is not a real one; parsing it is the engine's job). */
export function fakePtBytes(opts: { zip64?: boolean; withPickle?: boolean } = {}): Buffer {
  const entries = [
    { name: "archive/data.pkl", data: Buffer.from("\x80\x02}q\x00.", "latin1") },
    { name: "archive/byteorder", data: Buffer.from("little") },
    { name: "archive/data/0", data: Buffer.alloc(4096, 1) },
    { name: "archive/data/1", data: Buffer.alloc(1024, 2) },
    { name: "archive/version", data: Buffer.from("3\n") },
  ];
  return zipBytes(opts.withPickle === false ? entries.filter((e) => !e.name.endsWith("data.pkl")) : entries, { zip64: opts.zip64 });
}
