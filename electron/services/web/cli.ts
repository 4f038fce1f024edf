// `npm run web`: serves the renderer and the services on 127.0.0.1 for a browser.
//   tsx electron/services/web/cli.ts [--port N] [--model DIR] [--data-dir DIR] [--engine BIN] [--threads N]
import { join } from "node:path";
import { parseArgs } from "node:util";

import { createAppServices, findUp } from "../runs/app-services.js";
import { startWebServer } from "./server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    model: { type: "string" },
    "data-dir": { type: "string" },
    engine: { type: "string" },
    threads: { type: "string" },
    static: { type: "string" },
  },
});

const staticDir = values.static ?? findUp(join("dist", "renderer")) ?? "dist/renderer";
const { workbench, engine } = createAppServices({
  mode: "web",
  dataDir: values["data-dir"],
  modelDir: values.model,
  engineBinary: values.engine,
  threads: values.threads ? Number(values.threads) : undefined,
});
const info = workbench.appInfo();
if (info.engine.state === "missing") console.error(`warning: ${info.engine.message}`);

const server = await startWebServer({ backend: workbench, staticDir, port: Number(values.port) });
// Tests and scripts read this line.
console.log(`VGGT Workbench web mode: ${server.url}`);
console.log(`data: ${info.dataDir}; model: ${info.model.state === "ready" ? info.model.dir : "none"}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  await workbench.dispose();
  await engine.dispose();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
