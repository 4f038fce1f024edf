// Every CLI subcommand, registered once. Add new subcommands here (one module each).
import { modelCommand } from "./model-command.js";
import { exportCommand } from "./export-command.js";
import { reconstructCommand } from "./reconstruct-command.js";
import { refineCommand } from "./refine-command.js";
import { registerCommand } from "./registry.js";

registerCommand(exportCommand);
registerCommand(modelCommand);
registerCommand(reconstructCommand);
registerCommand(refineCommand);
