// Performance-lab state (zustand) and its actions. The current option set lives in the main
// store's run options (reconstruction runs and benchmarks share it).
import { create } from "zustand";

import type { BenchProgress, BenchRecord, BenchRequest, BenchSummary, OptionSet, PerfInfo } from "../../../electron/ipc/channels";
import { describeSet, presetSet } from "../../../common/option-catalog";
import { api } from "../api";
import { notify, setOptions, useStore } from "../store";

/** An A/B side: a preset, or the toggles as they are now (frozen when the benchmark starts). */
export type SetChoice = { kind: "preset"; id: string } | { kind: "current" };

export interface PerfState {
  info: PerfInfo | null;
  benches: BenchSummary[];
  progress: Record<string, BenchProgress>;
  selectedId: string | null;
  selected: BenchRecord | null;
  /** Benchmarks ticked for comparison. */
  compare: string[];
  compareRecords: BenchRecord[];
  form: {
    kind: BenchRequest["kind"];
    a: SetChoice;
    b: SetChoice;
    repeats: number;
    threads: number;
    keepOutputs: boolean;
  };
}

export const usePerf = create<PerfState>(() => ({
  info: null,
  benches: [],
  progress: {},
  selectedId: null,
  selected: null,
  compare: [],
  compareRecords: [],
  form: { kind: "ab", a: { kind: "preset", id: "reference" }, b: { kind: "current" }, repeats: 3, threads: 0, keepOutputs: true },
}));

const set = usePerf.setState;
const get = usePerf.getState;

let started = false;

export async function initPerf(): Promise<void> {
  if (started) return;
  started = true;
  api.onEvent((e) => {
    if (e.type === "bench-progress") set((s) => ({ progress: { ...s.progress, [e.progress.benchId]: e.progress } }));
    else if (e.type === "bench-updated") onBenchUpdated(e.bench);
  });
  try {
    const [info, benches] = await Promise.all([api.perfInfo(), api.listBenchmarks()]);
    set({ info, benches });
  } catch (e) {
    notify(`performance lab: ${(e as Error).message}`);
  }
}

function onBenchUpdated(b: BenchSummary): void {
  const benches = [b, ...get().benches.filter((x) => x.id !== b.id)].sort((x, y) => (x.createdAt < y.createdAt ? 1 : -1));
  set({ benches });
  if (b.status !== "running") {
    set((s) => {
      const progress = { ...s.progress };
      delete progress[b.id];
      return { progress };
    });
    if (b.status === "failed") notify(`Benchmark “${b.label}” failed: ${b.error ?? "unknown error"}`);
    if (get().selectedId === b.id) void selectBench(b.id);
  }
}

export function setForm(patch: Partial<PerfState["form"]>): void {
  set((s) => ({ form: { ...s.form, ...patch } }));
}

export function currentSet(): OptionSet {
  return { ...useStore.getState().options.engineOptions! };
}

export function resolveChoice(c: SetChoice): { label: string; options: OptionSet } {
  if (c.kind === "preset") return { label: describeSet(presetSet(c.id)), options: presetSet(c.id) };
  const options = currentSet();
  return { label: `Current toggles (${describeSet(options)})`, options };
}

export function applyPreset(id: string): void {
  setOptions({ engineOptions: presetSet(id) });
}

export function toggleOption(name: string, on: boolean): void {
  setOptions({ engineOptions: { ...currentSet(), [name]: on } });
}

export async function startBenchmark(): Promise<void> {
  const { form } = get();
  const main = useStore.getState();
  const images = main.frames.filter((f) => f.included).map((f) => f.entry.path);
  const req: BenchRequest = {
    kind: form.kind,
    images,
    frames: images.length || 2,
    repeats: form.repeats,
    threads: form.threads,
    randomWeights: main.options.randomWeights,
    preprocess: main.options.preprocess,
    parallel: main.options.parallel ?? { mode: "none", degree: 1 },
    keepOutputs: form.kind === "ab" && form.keepOutputs && images.length > 0,
  };
  if (form.kind === "ab") {
    req.a = resolveChoice(form.a);
    req.b = resolveChoice(form.b);
  }
  try {
    const b = await api.startBenchmark(req);
    if (!get().benches.some((x) => x.id === b.id)) onBenchUpdated(b);
    set({ selectedId: b.id, selected: null });
  } catch (e) {
    notify((e as Error).message);
  }
}

export async function cancelBenchmark(id: string): Promise<void> {
  try {
    await api.cancelBenchmark(id);
  } catch (e) {
    notify((e as Error).message);
  }
}

export async function selectBench(id: string): Promise<void> {
  set({ selectedId: id });
  try {
    const rec = await api.getBenchmark(id);
    if (get().selectedId === id) set({ selected: rec });
  } catch (e) {
    notify((e as Error).message);
  }
}

export async function deleteBench(id: string): Promise<void> {
  try {
    await api.deleteBenchmark(id);
    set((s) => ({
      benches: s.benches.filter((b) => b.id !== id),
      compare: s.compare.filter((c) => c !== id),
      compareRecords: s.compareRecords.filter((r) => r.id !== id),
      ...(s.selectedId === id ? { selectedId: null, selected: null } : {}),
    }));
  } catch (e) {
    notify((e as Error).message);
  }
}

export async function toggleCompare(id: string, on: boolean): Promise<void> {
  const compare = on ? [...new Set([...get().compare, id])] : get().compare.filter((c) => c !== id);
  set({ compare });
  try {
    const records = await Promise.all(compare.map((c) => get().compareRecords.find((r) => r.id === c) ?? api.getBenchmark(c)));
    if (get().compare.join() === compare.join()) set({ compareRecords: records });
  } catch (e) {
    notify((e as Error).message);
  }
}
