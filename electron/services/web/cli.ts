// `npm run web`: serves the renderer and the services on 127.0.0.1 for a browser.
//   tsx electron/services/web/cli.ts [--port N] [--model DIR] [--model-root DIR]... [--hub-url URL] [--data-dir DIR] [--engine BIN] [--threads N]
import { join } from "node:path";
import { parseArgs } from "node:util";

import { checkHubUrl } from "../model-manager/app-install.js";
import { createAppServices, findUp } from "../runs/app-services.js";
import { startWebServer } from "./server.js";

const USAGE = `Usage: npm run web -- [options]

Serves the app on 127.0.0.1 for a browser and prints its address (with a one-time token).

Options:
  --port N          port (default 0: any free port)
  --model PATH      a model folder or checkpoint file to start with (default: the local model, if any)
  --model-root DIR  a folder in which the browser may choose a model with the path field (repeatable;
                    the app's own folders, the model manager's cache among them, always may be used)
  --hub-url URL     the Hugging Face hub (or mirror) the Model panel downloads from (http or https;
                    default $HF_ENDPOINT, else https://huggingface.co)
  --data-dir DIR    where runs and benchmarks are kept (default: the app's data folder)
  --engine BIN      the vggt-engine binary (default: native-engine/build/vggt-engine)
  --threads N       engine threads (default: all cores)
  --static DIR      the built renderer (default: dist/renderer)
  -h, --help        this help
`;

function parseCli() {
  try {
    return parseArgs({
      options: {
        port: { type: "string", default: "0" },
        model: { type: "string" },
        "model-root": { type: "string", multiple: true },
        "hub-url": { type: "string" },
        "data-dir": { type: "string" },
        engine: { type: "string" },
        threads: { type: "string" },
        static: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    console.error(`web mode: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const { values } = parseCli();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

let hubEndpoint: string | undefined;
try {
  hubEndpoint = values["hub-url"] !== undefined ? checkHubUrl(values["hub-url"]) : undefined;
} catch (e) {
  console.error(`web mode: ${(e as Error).message}\n\n${USAGE}`);
  process.exit(2);
}

const staticDir = values.static ?? findUp(join("dist", "renderer")) ?? "dist/renderer";
const { workbench, engine } = createAppServices({
  mode: "web",
  dataDir: values["data-dir"],
  modelDir: values.model,
  modelRoots: values["model-root"],
  hubEndpoint,
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
