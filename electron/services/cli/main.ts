// Entry point of the `vggt-workbench` CLI (bin/vggt-workbench.mjs runs runCli).
import "./commands.js";
import { getCommand, listCommands, UsageError, type CliIO } from "./registry.js";

const defaultIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

function overview(): string {
  const cmds = listCommands();
  const w = Math.max(0, ...cmds.map((c) => c.name.length));
  return [
    "Usage: vggt-workbench <command> [options]",
    "",
    "Commands:",
    ...cmds.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Run 'vggt-workbench help <command>' for a command's options.",
    "",
  ].join("\n");
}

export async function runCli(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    io.stdout(overview());
    return name ? 0 : 2;
  }
  if (name === "help") {
    const cmd = rest[0] ? getCommand(rest[0]) : undefined;
    if (rest[0] && !cmd) {
      io.stderr(`vggt-workbench: unknown command '${rest[0]}'\n\n${overview()}`);
      return 2;
    }
    io.stdout(cmd ? cmd.usage : overview());
    return 0;
  }
  const cmd = getCommand(name);
  if (!cmd) {
    io.stderr(`vggt-workbench: unknown command '${name}'\n\n${overview()}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`vggt-workbench ${name}: ${e.message}\n\n${cmd.usage}`);
      return 2;
    }
    io.stderr(`vggt-workbench ${name}: error: ${(e as Error).message}\n`);
    return 1;
  }
}
