// The performance lab's public face: what other services (the workbench) may use. Its parts
// (history, engine commands) stay private to perf/.
export { ENGINE_OUTPUT_FILE, hostMachine, PerfLab, type PerfLabOptions, type PerfModel } from "./perf-lab.js";
export { newBenchId, readFinishedBenchmarks } from "./history.js";
