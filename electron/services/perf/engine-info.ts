// What the engine binary says about itself: its version and whether it can run sequence-parallel
// (MPI) jobs. `vggt-engine version --json` is asked first; an engine that only prints
// "vggt-engine X.Y.Z" reports no MPI support, and the parallel controls say so.
import { spawnEngine } from "../engine/engine-process.js";

export interface EngineCapabilities {
  version: string | null;
  parallel: boolean;
  parallelModes: ("ulysses" | "ring")[];
  problem?: string;
}

export const NO_MPI_NOTE = "Not available in this engine build: the engine reports no MPI (sequence-parallel) support.";

/** Interprets the output of `vggt-engine version [--json]`. */
export function parseVersionOutput(stdout: string): EngineCapabilities {
  const t = stdout.trim();
  try {
    const j = JSON.parse(t) as Record<string, unknown>;
    if (j && typeof j === "object") {
      const version = typeof j.version === "string" ? j.version : typeof j.engine_version === "string" ? j.engine_version : null;
      const modes = Array.isArray(j.parallel_modes) ? (j.parallel_modes.filter((m) => m === "ulysses" || m === "ring") as ("ulysses" | "ring")[]) : [];
      const parallel = j.mpi === true || j.parallel === true || modes.length > 0;
      return { version, parallel, parallelModes: parallel ? (modes.length ? modes : ["ulysses", "ring"]) : [] };
    }
  } catch {
    // plain text
  }
  const m = /vggt-engine\s+(\S+)/.exec(t);
  return { version: m ? m[1] : null, parallel: false, parallelModes: [], ...(m ? {} : { problem: `unexpected version output ${JSON.stringify(t.slice(0, 80))}` }) };
}

export async function probeEngine(binary: string, timeoutMs = 10_000): Promise<EngineCapabilities> {
  const failed = (why: string): EngineCapabilities => ({ version: null, parallel: false, parallelModes: [], problem: `${binary} version: ${why.trim()}` });
  try {
    const r = await spawnEngine({ command: binary, args: ["version", "--json"] }, { timeoutMs });
    if (r.code !== 0 && !r.stdout) return failed(r.stderrTail || (r.timedOut ? `no answer within ${timeoutMs} ms` : `exited with code ${r.code ?? r.signal}`));
    return parseVersionOutput(r.stdout);
  } catch (e) {
    return failed((e as Error).message);
  }
}
