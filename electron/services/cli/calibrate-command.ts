// `vggt-workbench calibrate`: measures this machine (`vggt-engine calibrate`, a few seconds) and
// caches the default option set the app and `reconstruct` use, replacing an earlier measurement.
import { checkThreads } from "../../../common/limits.js";
import { CalibrationCache, defaultFromCalibration, engineMachineKey, presetLabel, runCalibrate } from "../calibration/calibration.js";
import { findEngineBinary } from "../engine/engine-launch.js";
import { defaultDataDir } from "../runs/app-services.js";
import { parseCliArgs, UsageError, type CliCommand } from "./registry.js";

const USAGE = `Usage: vggt-workbench calibrate [--threads N] [--json]

Times VGGT-1B's transformer GEMMs, frame attention and a DPT-head convolution with the kernels of
each default candidate (Fastest exact: fp32; All: bf16; All + int8: int8) on this CPU, and
caches the fastest candidate inside the official bf16 accuracy bound as the default option set of
new runs (the app and 'vggt-workbench reconstruct' without --options), keyed by CPU, ISA, engine
version and threads. A few seconds; run it again after a change to the machine.

Options:
  --threads N   engine threads to calibrate for (default: all cores, as runs use)
  --json        print the calibration as cached (candidates, choice, machine key)
`;

export const calibrateCommand: CliCommand = {
  name: "calibrate",
  summary: "measure which option set is fastest on this machine (the default for new runs)",
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseCliArgs(argv, { threads: { type: "string" }, json: { type: "boolean" } });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    let threads: number | undefined;
    try {
      threads = values.threads === undefined ? undefined : checkThreads(values.threads, "--threads");
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const bin = findEngineBinary();
    const key = await engineMachineKey(bin, threads);
    io.stderr(`Calibrating ${key.cpu} (${key.isa}, ${key.threads} threads, engine ${key.engineVersion})…\n`);
    const cal = { ...(await runCalibrate(bin, key.threads)), ...key };
    new CalibrationCache(defaultDataDir()).put(cal);
    if (values.json) {
      io.stdout(JSON.stringify(cal, null, 2) + "\n");
      return 0;
    }
    for (const c of cal.candidates)
      io.stdout(`${c.preset.padEnd(14)} ${c.path.padEnd(5)} predicted ${c.relativeTime.toFixed(2)}x the exact time (${c.speedupVsExact.toFixed(2)}x faster)${c.insideBound ? "" : ", outside the accuracy bound"}\n`);
    io.stdout(`Default for new runs: ${presetLabel(cal.chosen.preset)} — ${defaultFromCalibration(cal).why}\n`);
    return 0;
  },
};
