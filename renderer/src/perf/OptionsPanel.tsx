// The engine's optimization toggles: every option with what it does and its accuracy effect,
// the presets, and the parallelism controls. Runs and benchmarks use this option set.
import { boundSentence, isExact, matchPreset, OPTIONS, PRESET_LABELS, PRESETS, UNCALIBRATED_PRESET, type OptionGroup, type PresetId } from "../../../common/option-catalog";
import { remeasureDefaults, setOptions, useMachineDefault, useStore } from "../store";
import { applyPreset, toggleOption, usePerf } from "./perf-store";

const GROUPS: readonly { id: OptionGroup; title: string; hint: string }[] = [
  { id: "optimizations", title: "Optimizations", hint: "" },
  { id: "many-frames", title: "Many frames", hint: "Sparse global attention for tens to hundreds of frames: lossy, off by default; parameters at their defaults (set others with --options name=value)." },
];

/** `compact`: one line per option, the explanation and accuracy effect in its tooltip (the run sidebar). */
export function OptionsPanel({ compact = false }: { compact?: boolean }) {
  const flags = useStore((s) => s.options.engineOptions) ?? {};
  const parallel = useStore((s) => s.options.parallel) ?? { mode: "none", degree: 1 };
  const info = usePerf((s) => s.info);
  const preset = matchPreset(flags);
  const parallelOk = !!info?.parallel.available;
  const defaults = useStore((s) => s.defaults);
  const chosen = useStore((s) => s.optionsChosen);
  const remeasuring = useStore((s) => s.remeasuring);
  const defaultId = (defaults?.preset ?? UNCALIBRATED_PRESET) as PresetId;
  return (
    <section className="panel" data-testid="options-panel">
      <h2>Engine options</h2>
      <div className="presets row wrap" role="group" aria-label="Presets">
        {PRESETS.map((p) => (
          <button key={p.id} data-testid={`preset-${p.id}`} className={preset?.id === p.id ? "active" : ""} aria-pressed={preset?.id === p.id} title={p.description} onClick={() => applyPreset(p.id)}>
            {p.label}
          </button>
        ))}
      </div>
      <p className="hint" data-testid="options-summary">
        {preset ? `Preset: ${preset.label}` : "Custom option set"} · {isExact(flags) ? "fp32-exact outputs" : "lossy: outputs differ from the fp32 reference"}
      </p>
      <div className="hint default-preset" data-testid="default-preset" data-state={defaults?.state ?? "asking"} data-preset={defaultId} title={boundSentence()}>
        <p data-testid="default-preset-why">
          <strong>Default on this machine: {PRESET_LABELS[defaultId] ?? defaultId}</strong>
          {defaults?.state === "measuring" ? " (measuring this CPU…) " : " — "}
          {defaults ? defaults.why : "asking the services…"}
        </p>
        <div className="row wrap">
          {preset?.id !== "fastest-exact" && (
            <button className="link" data-testid="use-exact" onClick={() => applyPreset("fastest-exact")}>
              use Fastest exact (fp32-exact outputs)
            </button>
          )}
          {chosen && (
            <button className="link" data-testid="use-default" onClick={() => useMachineDefault()}>
              back to this machine's default
            </button>
          )}
          <button className="link" data-testid="remeasure-default" disabled={remeasuring || defaults?.state === "measuring"} onClick={() => void remeasureDefaults()}>
            {remeasuring ? "re-measuring…" : "re-measure"}
          </button>
        </div>
      </div>
      {GROUPS.map((g) => (
        <div key={g.id} data-testid={`option-group-${g.id}`}>
          {g.id !== "optimizations" && <h3>{g.title}</h3>}
          {g.hint && !compact && <p className="hint">{g.hint}</p>}
          <ul className={`option-list${compact ? " compact" : ""}`}>
            {OPTIONS.filter((o) => o.group === g.id).map((o) => (
              <li key={o.name} title={compact ? `${o.what}\n${o.accuracy}` : undefined}>
                <label>
                  <input type="checkbox" data-testid={`option-${o.name}`} checked={!!flags[o.name]} onChange={(e) => toggleOption(o.name, e.target.checked)} />
                  <span className="option-name">{o.name}</span>
                  <span className={`acc acc-${o.accuracyClass}`}>{o.accuracyClass}</span>
                </label>
                {!compact && <div className="hint">{o.what}</div>}
                {!compact && <div className="hint acc-text">{o.accuracy}</div>}
                {o.params && (
                  <div className="hint option-params" data-testid={`option-params-${o.name}`}>
                    {o.params.map((p) => (
                      <span key={p.name} title={p.what}>
                        {p.name} = {p.default} <span className="range">[{p.min}–{p.max}]</span>{" "}
                      </span>
                    ))}
                  </div>
                )}
              </li>
            ))}
          </ul>
        </div>
      ))}
      <fieldset className="parallel" disabled={!parallelOk} data-testid="parallel-controls">
        <legend>Parallelism</legend>
        <div className="row wrap">
          <label>
            Mode{" "}
            <select data-testid="parallel-mode" value={parallel.mode} onChange={(e) => setOptions({ parallel: { mode: e.target.value as "none" | "ulysses" | "ring", degree: e.target.value === "none" ? 1 : Math.max(2, parallel.degree) } })}>
              <option value="none">single process</option>
              <option value="ulysses">Ulysses (all-to-all)</option>
              <option value="ring">Ring attention</option>
            </select>
          </label>
          <label>
            Degree{" "}
            <input
              type="number"
              data-testid="parallel-degree"
              min={1}
              max={info?.parallel.maxDegree ?? 1}
              value={parallel.degree}
              disabled={parallel.mode === "none"}
              onChange={(e) => setOptions({ parallel: { ...parallel, degree: Math.max(1, Math.floor(Number(e.target.value) || 1)) } })}
            />
          </label>
          <label>
            Hostfile{" "}
            <input
              type="text"
              data-testid="parallel-hostfile"
              placeholder="(this machine)"
              value={parallel.hostfile ?? ""}
              disabled={parallel.mode === "none"}
              onChange={(e) => setOptions({ parallel: { ...parallel, hostfile: e.target.value.trim() || undefined } })}
            />
          </label>
        </div>
        <p className="hint" data-testid="parallel-note">
          {info ? info.parallel.note : "Asking the engine…"}
        </p>
      </fieldset>
    </section>
  );
}
