// Every CLI subcommand, registered once. Add new subcommands here (one module each).
import { calibrateCommand } from "./calibrate-command.js";
import { modelCommand } from "./model-command.js";
import { exportCommand } from "./export-command.js";
import { reconstructCommand } from "./reconstruct-command.js";
import { refineCommand } from "./refine-command.js";
import { registerCommand } from "./registry.js";

registerCommand(calibrateCommand);
registerCommand(exportCommand);
registerCommand(modelCommand);
registerCommand(reconstructCommand);
registerCommand(refineCommand);
