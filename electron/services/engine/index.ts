// The engine process service: typed protocol, client, supervisor, launch helpers.
export * from "./protocol.js";
export * from "./engine-errors.js";
export * from "./engine-launch.js";
export { EngineClient, EngineJob, type EngineClientOptions, type ExitInfo, type InferOptions, type RequestOptions } from "./engine-client.js";
export { EngineSupervisor, type BackoffOptions, type CrashInfo, type SupervisorOptions } from "./engine-supervisor.js";
