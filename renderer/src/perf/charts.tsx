// Performance charts (recharts): latency per cumulative row with the write-up's NPU figures
// alongside, the per-stage breakdown as stacked bars, and A vs B. Every bar carries its series,
// row and value as data attributes, so the end-to-end tests read what is drawn against the JSON.
import { plural } from "../format";
import { useRef, useState, type ReactNode } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

import type { BenchJson } from "../../../electron/ipc/channels";
import { chartRows, NPU_LABEL, STAGE_GROUPS, type ChartRow, type StageKey } from "../../../common/chart-data";
import { useStore } from "../store";
import { downloadBlob, svgToPng } from "./chart-export";

export interface Palette {
  background: string;
  text: string;
  muted: string;
  grid: string;
  ours: string;
  npu: string;
  a: string;
  b: string;
  stages: Record<StageKey, string>;
}

// Mid-saturation colours that keep their contrast on both the dark and the light panel.
const STAGE_COLORS: Record<StageKey, string> = {
  encoder: "#5b8def",
  frame_attention: "#3fae7a",
  global_attention: "#d99a1e",
  mlp: "#b760c4",
  aggregator_rest: "#8a97ab",
  heads: "#e3643f",
  other: "#3bb8c2",
};

export function palette(theme: "dark" | "light"): Palette {
  return theme === "dark"
    ? { background: "#23262e", text: "#e6e8ee", muted: "#9aa1b1", grid: "#3a3f4b", ours: "#4f8cff", npu: "#c9a227", a: "#8a97ab", b: "#4f8cff", stages: STAGE_COLORS }
    : { background: "#ffffff", text: "#1d2230", muted: "#5d6578", grid: "#dde1e8", ours: "#2563eb", npu: "#a8820c", a: "#6b7688", b: "#2563eb", stages: STAGE_COLORS };
}

export function usePalette(): Palette {
  return palette(useStore((s) => s.theme));
}

const ms = (v: unknown) => (typeof v === "number" ? `${v.toFixed(v < 10 ? 2 : 1)} ms` : String(v));

/** A bar that says what it shows (series, row, value) for tests and assistive tools. */
function labelledBar(series: string, value: (row: ChartRow) => number | null, fillOf?: (row: ChartRow) => string) {
  return function LabelledBar(props: { x?: number; y?: number; width?: number; height?: number; fill?: string; payload?: ChartRow }) {
    const v = props.payload ? value(props.payload) : null;
    if (v === null || v === undefined) return <g />;
    return (
      <rect
        x={props.x}
        y={props.y}
        width={props.width}
        height={Math.max(0, props.height ?? 0)}
        fill={fillOf && props.payload ? fillOf(props.payload) : props.fill}
        data-testid="bar"
        data-series={series}
        data-row={props.payload?.row}
        data-value={v}
        aria-label={`${props.payload?.row} ${series}: ${ms(v)}`}
      />
    );
  };
}

interface ChartCardProps {
  id: string;
  title: string;
  legend: { label: string; color: string }[];
  fileBase: string;
  children: ReactNode;
  extra?: ReactNode;
}

/** Title, the chart, and its PNG export. */
export function ChartCard({ id, title, legend, fileBase, children, extra }: ChartCardProps) {
  const host = useRef<HTMLDivElement>(null);
  const pal = usePalette();
  const [busy, setBusy] = useState(false);
  const exportPng = async () => {
    // The legend icons are small recharts-surface SVGs too: the chart is the largest one.
    const svgs = [...(host.current?.querySelectorAll<SVGSVGElement>("svg.recharts-surface") ?? [])];
    const area = (s: SVGSVGElement) => s.getBoundingClientRect().width * s.getBoundingClientRect().height;
    const svg = svgs.sort((a, b) => area(b) - area(a))[0];
    if (!svg) return;
    setBusy(true);
    try {
      downloadBlob(await svgToPng(svg, { title, legend, background: pal.background, text: pal.text }), `${fileBase}-${id}.png`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="chart-card" data-testid={`chart-${id}`}>
      <div className="row">
        <h3 className="grow">{title}</h3>
        {extra}
        <button data-testid={`export-png-${id}`} disabled={busy} onClick={() => void exportPng()}>
          PNG
        </button>
      </div>
      <div ref={host} className="chart-host">
        {children}
      </div>
    </section>
  );
}

const axisProps = (pal: Palette) => ({ stroke: pal.muted, tick: { fill: pal.text, fontSize: 11 } });

function tooltipStyle(pal: Palette) {
  return { contentStyle: { background: pal.background, border: `1px solid ${pal.grid}`, color: pal.text }, labelStyle: { color: pal.text }, itemStyle: { color: pal.text } };
}

// The cumulative rows along x, milliseconds up: the frame both row charts share.
function RowsBarChart({ data, pal, children }: { data: ChartRow[]; pal: Palette; children: ReactNode }) {
  return (
    <ResponsiveContainer width="100%" height={320}>
      <BarChart data={data} margin={{ top: 10, right: 16, bottom: 40, left: 10 }}>
        <CartesianGrid stroke={pal.grid} vertical={false} />
        <XAxis dataKey="row" interval={0} angle={-30} textAnchor="end" height={50} {...axisProps(pal)} />
        <YAxis {...axisProps(pal)} label={{ value: "ms", angle: -90, position: "insideLeft", fill: pal.muted }} />
        <Tooltip formatter={ms} {...tooltipStyle(pal)} cursor={{ fill: pal.grid, opacity: 0.4 }} />
        <Legend verticalAlign="top" itemSorter={null} wrapperStyle={{ color: pal.text, paddingBottom: 6 }} />
        {children}
      </BarChart>
    </ResponsiveContainer>
  );
}

export function LatencyChart({ json, fileBase }: { json: BenchJson; fileBase: string }) {
  const pal = usePalette();
  const data = chartRows(json);
  const hasNpu = data.some((d) => d.npu !== null);
  const legend = [{ label: "Ours: median latency (ms)", color: pal.ours }, ...(hasNpu ? [{ label: NPU_LABEL, color: pal.npu }] : [])];
  return (
    <ChartCard id="latency" title={`Latency per cumulative row — ${plural(json.frames, "frame")} ${json.width}×${json.height}, ${json.threads || "all"} threads`} legend={legend} fileBase={fileBase}>
      <RowsBarChart data={data} pal={pal}>
        <Bar dataKey="ours" name="Ours: median (ms)" fill={pal.ours} isAnimationActive={false} shape={labelledBar("ours", (r) => r.ours) as never} />
        {hasNpu && <Bar dataKey="npu" name={NPU_LABEL} fill={pal.npu} isAnimationActive={false} shape={labelledBar("npu", (r) => r.npu) as never} />}
      </RowsBarChart>
      {hasNpu && (
        <p className="hint" data-testid="npu-note">
          The NPU figures are the write-up's (Huawei Ascend, one card, 25 kitchen images), shown for reference only: not measured on this machine, and not
          comparable in absolute terms.
        </p>
      )}
    </ChartCard>
  );
}

export function StageChart({ json, fileBase }: { json: BenchJson; fileBase: string }) {
  const pal = usePalette();
  const data = chartRows(json);
  const present = STAGE_GROUPS.filter((g) => data.some((d) => d[g.key] > 0));
  return (
    <ChartCard id="stages" title="Per-stage breakdown (ms, as the engine timed each row)" legend={present.map((g) => ({ label: g.label, color: pal.stages[g.key] }))} fileBase={fileBase}>
      <RowsBarChart data={data} pal={pal}>
        {present.map((g) => (
          <Bar key={g.key} dataKey={g.key} name={g.label} stackId="stages" fill={pal.stages[g.key]} isAnimationActive={false} shape={labelledBar(g.key, (r) => r[g.key]) as never} />
        ))}
      </RowsBarChart>
    </ChartCard>
  );
}

export function AbChart({ json, labels, fileBase }: { json: BenchJson; labels: [string, string]; fileBase: string }) {
  const pal = usePalette();
  const data = chartRows(json).map((r, i) => ({ ...r, row: `${r.name}: ${labels[i]}` }));
  return (
    <ChartCard id="ab" title={`A vs B — median of ${json.repeats} interleaved runs`} legend={[
        { label: `A: ${labels[0]}`, color: pal.a },
        { label: `B: ${labels[1]}`, color: pal.b },
      ]} fileBase={fileBase}>
      <ResponsiveContainer width="100%" height={220}>
        <BarChart data={data} layout="vertical" margin={{ top: 10, right: 30, bottom: 10, left: 10 }}>
          <CartesianGrid stroke={pal.grid} horizontal={false} />
          <XAxis type="number" {...axisProps(pal)} />
          <YAxis type="category" dataKey="row" width={220} {...axisProps(pal)} />
          <Tooltip formatter={ms} {...tooltipStyle(pal)} cursor={{ fill: pal.grid, opacity: 0.4 }} />
          <Bar dataKey="ours" name="median (ms)" fill={pal.b} isAnimationActive={false} shape={labelledBar("ours", (r) => r.ours, (r) => (r.name === "A" ? pal.a : pal.b)) as never} />
        </BarChart>
      </ResponsiveContainer>
    </ChartCard>
  );
}
