import { OrbitControls } from "@react-three/drei";
import { Canvas, useThree, type ThreeEvent } from "@react-three/fiber";
import { useEffect, useMemo, useRef } from "react";
import * as THREE from "three";

import type { CameraFrame, PointCloud } from "../../../electron/ipc/channels";
import { trackAt, useStore, viewCommand } from "../store";
import { chunkColors } from "../chunk-colors";
import { cameraPose, fitDistance, flip, frameAllBounds, needsReframe, sceneBounds, unproject, verticalFov, type Vec3 } from "../viewer-math";

/** Frustum depth drawn for each camera, relative to the cloud's radius. */
const frustumSize = (radius: number) => radius * 0.12;

/** Width in CSS pixels of the canvas's right part that the controls panel covers. */
function coveredRight(canvas: HTMLCanvasElement): number {
  const panel = document.querySelector("[data-testid=viewer-controls]");
  if (!panel) return 0;
  const c = canvas.getBoundingClientRect();
  const p = panel.getBoundingClientRect();
  if (p.bottom <= c.top || p.top >= c.bottom) return 0;
  return Math.max(0, Math.min(c.right, c.right - p.left + 10));
}

/** The WebGL canvas, for screenshots. */
export const canvasRef: { current: HTMLCanvasElement | null } = { current: null };

const VERTEX = /* glsl */ `
attribute float conf;
attribute float frameIndex;
uniform float threshold;
uniform float pointSize;
uniform sampler2D frameMask;
uniform float frameCount;
uniform float filterBlack;
uniform float filterWhite;
varying vec3 vColor;
void main() {
  float shown = texture2D(frameMask, vec2((frameIndex + 0.5) / frameCount, 0.5)).r;
  // The background filters of common/point-selection.ts on 8-bit colours (color = k / 255).
  vec3 c8 = floor(color * 255.0 + 0.5);
  bool black = filterBlack > 0.5 && c8.r + c8.g + c8.b < 16.0;
  bool white = filterWhite > 0.5 && c8.r > 240.0 && c8.g > 240.0 && c8.b > 240.0;
  if (conf < threshold || conf <= 1e-5 || shown < 0.5 || black || white) {
    // Outside the clip volume: the point is dropped before rasterisation.
    gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
    gl_PointSize = 0.0;
    return;
  }
  vColor = color;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
  gl_PointSize = pointSize;
}`;

const FRAGMENT = /* glsl */ `
varying vec3 vColor;
void main() {
  gl_FragColor = vec4(vColor, 1.0);
}`;

function Points({ cloud, threshold }: { cloud: PointCloud; threshold: number }) {
  const pointSize = useStore((s) => s.viewer.pointSize);
  const hidden = useStore((s) => s.viewer.hiddenFrames);
  const filterBlack = useStore((s) => s.viewer.filterBlack);
  const filterWhite = useStore((s) => s.viewer.filterWhite);
  const dpr = useThree((s) => s.viewport.dpr);
  const invalidate = useThree((s) => s.invalidate);
  const frameCount = Math.max(1, cloud.cameras.length);
  const colorByChunk = useStore((s) => s.viewer.colorByChunk);
  const chunks = useStore((s) => s.runs.find((r) => r.id === cloud.runId)?.chunks);
  const byChunk = !!colorByChunk && !!chunks && chunks.length > 1;

  const geometry = useMemo(() => {
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.BufferAttribute(cloud.positions, 3));
    g.setAttribute("color", new THREE.BufferAttribute(byChunk ? chunkColors(cloud.frame, chunks!) : cloud.colors, 3, true));
    g.setAttribute("conf", new THREE.BufferAttribute(cloud.conf, 1));
    g.setAttribute("frameIndex", new THREE.BufferAttribute(Float32Array.from(cloud.frame), 1));
    g.computeBoundingSphere();
    return g;
  }, [cloud, byChunk, chunks]);
  const maskTexture = useMemo(() => {
    const t = new THREE.DataTexture(new Uint8Array(frameCount * 4), frameCount, 1, THREE.RGBAFormat);
    t.magFilter = THREE.NearestFilter;
    t.minFilter = THREE.NearestFilter;
    return t;
  }, [frameCount]);
  const material = useMemo(
    () =>
      new THREE.ShaderMaterial({
        vertexShader: VERTEX,
        fragmentShader: FRAGMENT,
        vertexColors: true,
        uniforms: {
          threshold: { value: 0 },
          pointSize: { value: 2 },
          frameMask: { value: maskTexture },
          frameCount: { value: frameCount },
          filterBlack: { value: 0 },
          filterWhite: { value: 0 },
        },
      }),
    [maskTexture, frameCount],
  );
  useEffect(() => () => geometry.dispose(), [geometry]);
  useEffect(() => () => material.dispose(), [material]);
  useEffect(() => () => maskTexture.dispose(), [maskTexture]);

  const data = maskTexture.image.data as Uint8Array;
  for (let f = 0; f < frameCount; f++) data[4 * f] = hidden.includes(f) ? 0 : 255;
  maskTexture.needsUpdate = true;
  material.uniforms.threshold.value = threshold;
  material.uniforms.pointSize.value = pointSize * dpr;
  material.uniforms.filterBlack.value = filterBlack ? 1 : 0;
  material.uniforms.filterWhite.value = filterWhite ? 1 : 0;
  // Uniforms and the mask texture are mutated outside React's props: ask for one new frame.
  useEffect(() => invalidate(), [invalidate, material, threshold, pointSize, dpr, hidden, filterBlack, filterWhite]);

  // Double-click a point: track it from the frame it came from (its pixel by the frame's camera).
  const onDoubleClick = (e: ThreeEvent<MouseEvent>) => {
    const hit = e.intersections.find((h) => h.object === e.object && h.index !== undefined && cloud.conf[h.index] >= threshold && !hidden.includes(cloud.frame[h.index]));
    if (!hit || hit.index === undefined) return;
    e.stopPropagation();
    const i = hit.index;
    const cam = cloud.cameras[cloud.frame[i]];
    if (!cam) return;
    const [x, y, z] = [cloud.positions[3 * i], cloud.positions[3 * i + 1], cloud.positions[3 * i + 2]];
    const E = cam.extrinsic;
    const K = cam.intrinsic;
    const xc = E[0] * x + E[1] * y + E[2] * z + E[3];
    const yc = E[4] * x + E[5] * y + E[6] * z + E[7];
    const zc = E[8] * x + E[9] * y + E[10] * z + E[11];
    if (!(zc > 0)) return;
    const u = Math.min(cam.width - 1, Math.max(0, (K[0] * xc) / zc + K[2]));
    const v = Math.min(cam.height - 1, Math.max(0, (K[4] * yc) / zc + K[5]));
    void trackAt(cam.index, u, v, "model");
  };
  return <points geometry={geometry} material={material} frustumCulled={false} onDoubleClick={onDoubleClick} />;
}

/**
 * Every camera in a fixed number of draw calls whatever their number: the outlines as one
 * line-segment geometry and the image thumbnails as one mesh over a texture atlas (one cell per camera), so 100+ cameras
 * cost what one does. A click on a thumbnail looks through its camera (two triangles per camera).
 */
function CameraFrustums({ cameras, scale }: { cameras: CameraFrame[]; scale: number }) {
  const { lines, quads, atlas } = useMemo(() => {
    const n = cameras.length;
    const seg = new Float32Array(n * 8 * 2 * 3);
    const segColor = new Float32Array(n * 8 * 2 * 3);
    const pos = new Float32Array(n * 4 * 3);
    const uv = new Float32Array(n * 4 * 2);
    const index = new Uint32Array(n * 6);
    // Atlas: a grid of cells as large as the largest thumbnail.
    const cw = Math.max(1, ...cameras.map((c) => c.thumbWidth));
    const ch = Math.max(1, ...cameras.map((c) => c.thumbHeight));
    const cols = Math.max(1, Math.ceil(Math.sqrt(n)));
    const rows = Math.max(1, Math.ceil(n / cols));
    const aw = cols * cw;
    const ah = rows * ch;
    const pixels = new Uint8Array(aw * ah * 4);
    const first = new THREE.Color("#ff7043");
    const other = new THREE.Color("#4fc3f7");
    cameras.forEach((cam, k) => {
      const c = cameraPose(cam.extrinsic).center;
      const corners = [unproject(cam, 0, 0, scale), unproject(cam, cam.width, 0, scale), unproject(cam, cam.width, cam.height, scale), unproject(cam, 0, cam.height, scale)];
      const col = cam.index === 0 ? first : other;
      for (let i = 0; i < 4; i++) {
        const base = (k * 8 + 2 * i) * 6;
        seg.set([...c, ...corners[i]], base);
        seg.set([...corners[i], ...corners[(i + 1) % 4]], base + 6);
      }
      for (let v = 0; v < 16; v++) segColor.set([col.r, col.g, col.b], (k * 16 + v) * 3);
      pos.set(corners.flat(), k * 12);
      const cx = (k % cols) * cw;
      const cy = Math.floor(k / cols) * ch;
      // Image row 0 is the top; DataTexture row 0 is v = 0 (flipY is off for data textures).
      for (let y = 0; y < cam.thumbHeight; y++) pixels.set(cam.thumb.subarray(y * cam.thumbWidth * 4, (y + 1) * cam.thumbWidth * 4), ((cy + y) * aw + cx) * 4);
      const u0 = cx / aw;
      const u1 = (cx + cam.thumbWidth) / aw;
      const v0 = cy / ah;
      const v1 = (cy + cam.thumbHeight) / ah;
      uv.set([u0, v0, u1, v0, u1, v1, u0, v1], k * 8);
      index.set([0, 2, 1, 0, 3, 2].map((j) => 4 * k + j), k * 6);
    });
    const lines = new THREE.BufferGeometry();
    lines.setAttribute("position", new THREE.BufferAttribute(seg, 3));
    lines.setAttribute("color", new THREE.BufferAttribute(segColor, 3));
    const quads = new THREE.BufferGeometry();
    quads.setAttribute("position", new THREE.BufferAttribute(pos, 3));
    quads.setAttribute("uv", new THREE.BufferAttribute(uv, 2));
    quads.setIndex(new THREE.BufferAttribute(index, 1));
    const atlas = new THREE.DataTexture(pixels, aw, ah, THREE.RGBAFormat);
    atlas.colorSpace = THREE.SRGBColorSpace;
    atlas.needsUpdate = true;
    return { lines, quads, atlas };
  }, [cameras, scale]);
  useEffect(
    () => () => {
      lines.dispose();
      quads.dispose();
      atlas.dispose();
    },
    [lines, quads, atlas],
  );
  const onClick = (e: ThreeEvent<MouseEvent>) => {
    if (e.faceIndex === undefined || e.faceIndex === null) return;
    const cam = cameras[Math.floor(e.faceIndex / 2)];
    if (!cam) return;
    e.stopPropagation();
    viewCommand({ kind: "camera", index: cam.index });
  };
  return (
    <group>
      <lineSegments geometry={lines} frustumCulled={false}>
        <lineBasicMaterial vertexColors />
      </lineSegments>
      <mesh geometry={quads} onClick={onClick} frustumCulled={false}>
        <meshBasicMaterial map={atlas} side={THREE.DoubleSide} transparent opacity={0.85} toneMapped={false} />
      </mesh>
    </group>
  );
}

/** What the last frame cost (draw calls) and what the scene holds in GPU buffers, for tests and
 *  diagnostics: window.__vggtViewerStats(). */
function StatsHook() {
  const gl = useThree((s) => s.gl);
  const scene = useThree((s) => s.scene);
  useEffect(() => {
    const w = window as unknown as { __vggtViewerStats?: () => unknown };
    w.__vggtViewerStats = () => {
      let bufferBytes = 0;
      const seen = new Set<THREE.BufferGeometry>();
      scene.traverse((o) => {
        const g = (o as THREE.Mesh).geometry as THREE.BufferGeometry | undefined;
        if (!g || seen.has(g)) return;
        seen.add(g);
        for (const a of Object.values(g.attributes)) bufferBytes += (a as THREE.BufferAttribute).array.byteLength;
        if (g.index) bufferBytes += g.index.array.byteLength;
      });
      return { calls: gl.info.render.calls, points: gl.info.render.points, frame: gl.info.render.frame, geometries: gl.info.memory.geometries, textures: gl.info.memory.textures, bufferBytes };
    };
    return () => {
      delete w.__vggtViewerStats;
    };
  }, [gl, scene]);
  return null;
}

/** Applies reset / look-through commands to the camera and the orbit controls. */
function ViewController({ cloud, bounds }: { cloud: PointCloud; bounds: { center: Vec3; radius: number } }) {
  const camera = useThree((s) => s.camera) as THREE.PerspectiveCamera;
  const controls = useThree((s) => s.controls) as unknown as { target: THREE.Vector3; enabled: boolean; update(): void } | null;
  const gl = useThree((s) => s.gl);
  const invalidate = useThree((s) => s.invalidate);
  const seq = useStore((s) => s.viewCommandSeq);
  const command = useStore((s) => s.viewCommand);

  useEffect(() => {
    canvasRef.current = gl.domElement;
  }, [gl]);

  const apply = (cmd: typeof command) => {
    if (!controls) return;
    const r = bounds.radius;
    camera.near = r / 1000;
    camera.far = r * 400;
    if (cmd?.kind === "camera" && cloud.cameras[cmd.index]) {
      const cam = cloud.cameras[cmd.index];
      const { center, rwc } = cameraPose(cam.extrinsic);
      // three camera axes in three world: F * R_wc * diag(1,-1,-1).
      const F = [1, -1, -1];
      const D = [1, -1, -1];
      const m = new THREE.Matrix4();
      const e = m.elements; // column-major
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) e[j * 4 + i] = F[i] * rwc[i * 3 + j] * D[j];
      camera.position.set(...flip(center));
      camera.quaternion.setFromRotationMatrix(m);
      camera.fov = verticalFov(cam);
      const forward = new THREE.Vector3(0, 0, -1).applyQuaternion(camera.quaternion);
      controls.target.copy(camera.position).addScaledVector(forward, r);
      camera.clearViewOffset();
      // Show the exact pose (roll included) until the user starts orbiting again.
      controls.enabled = false;
    } else {
      // Frame all: the points and every camera, centred in the part of the canvas no panel covers.
      const all = frameAllBounds(bounds, cloud.cameras.map((cam) => cameraPose(cam.extrinsic).center), frustumSize(bounds.radius));
      const c = new THREE.Vector3(...flip(all.center));
      const first = cloud.cameras[0] ? new THREE.Vector3(...flip(cameraPose(cloud.cameras[0].extrinsic).center)) : new THREE.Vector3();
      const dir = first.clone().sub(c);
      if (dir.lengthSq() < 1e-12) dir.set(0, 0, 1);
      dir.normalize();
      // A little above the first camera's side, so the scene is seen from slightly over it.
      dir.y += 0.15;
      dir.normalize();
      camera.up.set(0, 1, 0);
      camera.fov = cloud.cameras[0] ? verticalFov(cloud.cameras[0]) : 50;
      const covered = coveredRight(gl.domElement);
      const w = gl.domElement.clientWidth;
      const h = gl.domElement.clientHeight;
      // Shift the projection so the view's centre is the centre of the uncovered part.
      if (covered > 0 && w > covered) camera.setViewOffset(w, h, covered / 2, 0, w, h);
      else camera.clearViewOffset();
      camera.position.copy(c).addScaledVector(dir, fitDistance(all.radius, camera.fov, w - covered, h));
      controls.target.copy(c);
      camera.lookAt(c);
      controls.enabled = true;
      controls.update();
    }
    camera.updateProjectionMatrix();
    invalidate();
  };

  useEffect(() => {
    apply({ kind: "reset" });
    framed.current = bounds;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cloud.runId, controls]);
  // Another branch of the same run: keep the user's view unless the points moved out of it.
  const framed = useRef(bounds);
  useEffect(() => {
    if (framed.current !== bounds && needsReframe(framed.current, bounds)) {
      apply({ kind: "reset" });
      framed.current = bounds;
    }
    invalidate();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [bounds]);
  useEffect(() => {
    if (seq > 0) apply(command);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [seq]);

  useEffect(() => {
    const el = gl.domElement;
    const resume = () => {
      if (controls && !controls.enabled) {
        camera.up.set(0, 1, 0);
        controls.enabled = true;
      }
    };
    el.addEventListener("pointerdown", resume);
    el.addEventListener("wheel", resume);
    return () => {
      el.removeEventListener("pointerdown", resume);
      el.removeEventListener("wheel", resume);
    };
  }, [gl, controls, camera]);
  return null;
}

/** The 3-D points under the tracks of click-to-track, one sphere per frame, in the track's colour
 *  (faded where the track head calls the point not visible). */
function TrackHighlights({ radius }: { radius: number }) {
  const tracks = useStore((s) => s.tracks);
  const runId = useStore((s) => s.cloud?.runId);
  const sphere = useMemo(() => new THREE.SphereGeometry(1, 10, 8), []);
  useEffect(() => () => sphere.dispose(), [sphere]);
  return (
    <group>
      {tracks
        .filter((t) => t.result.runId === runId)
        .flatMap((t, k) =>
          t.result.world.map((f, s) =>
            f[0] ? (
              <mesh key={`${k}-${s}`} geometry={sphere} position={f[0]} scale={radius}>
                <meshBasicMaterial color={t.color} transparent opacity={t.result.vis[s][0] >= 0.5 ? 1 : 0.35} depthTest={false} />
              </mesh>
            ) : null,
          ),
        )}
    </group>
  );
}

export function Viewer({ threshold }: { threshold: number }) {
  const cloud = useStore((s) => s.cloud);
  const showCameras = useStore((s) => s.viewer.showCameras);
  const theme = useStore((s) => s.theme);
  const bounds = useMemo(() => (cloud ? sceneBounds(cloud.positions) : { center: [0, 0, 1] as Vec3, radius: 1 }), [cloud]);
  const hostRef = useRef<HTMLDivElement>(null);

  return (
    <div className="canvas-host" ref={hostRef} data-testid="viewer-canvas-host">
      {/* Drawn on demand (input, state change): a continuously redrawn software-WebGL canvas takes a
          core away from the engine. */}
      <Canvas frameloop="demand" gl={{ preserveDrawingBuffer: true, antialias: false }} dpr={[1, 2]} camera={{ fov: 50, near: 0.001, far: 1000, position: [0, 0, 2] }}>
        <color attach="background" args={[theme === "dark" ? "#15171c" : "#f4f5f7"]} />
        {cloud && (
          // OpenCV world -> three.js world.
          <group scale={[1, -1, -1]}>
            <Points cloud={cloud} threshold={threshold} />
            {showCameras && <CameraFrustums cameras={cloud.cameras} scale={frustumSize(bounds.radius)} />}
            <TrackHighlights radius={bounds.radius * 0.012} />
          </group>
        )}
        <OrbitControls makeDefault enableDamping={false} />
        {cloud && <ViewController cloud={cloud} bounds={bounds} />}
        <StatsHook />
      </Canvas>
    </div>
  );
}
