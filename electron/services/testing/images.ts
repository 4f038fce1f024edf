// Small image files for the scan/workbench tests.
import { encodePng } from "../../../assets/sample/make-sample.js";

export function pngBytes(w = 8, h = 6): Buffer {
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37) & 255;
  return encodePng(rgb, w, h);
}

/** Structurally valid baseline JPEG (SOI, SOF0, SOS, data, EOI); the scan checks structure only. */
export function jpegBytes(w = 640, h = 480): Buffer {
  const sof = [0xff, 0xc0, 0x00, 0x11, 0x08, h >> 8, h & 255, w >> 8, w & 255, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  const sos = [0xff, 0xda, 0x00, 0x0c, 0x03, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0];
  return Buffer.from([0xff, 0xd8, ...sof, ...sos, 0x12, 0x34, 0xff, 0x00, 0x56, 0xff, 0xd9]);
}
