// The CLI's subcommand registry: each subcommand is one module registered in commands.ts, and
// parses its arguments with parseCliArgs.
import { parseArgs, type ParseArgsConfig } from "node:util";

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface CliCommand {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full usage text shown by `vggt-workbench help <name>` and on usage errors. */
  usage: string;
  /** Returns the process exit code. Throw UsageError for bad arguments, Error for failures. */
  run(argv: string[], io: CliIO): Promise<number>;
}

/** Bad command-line usage (exit code 2, usage text shown). */
export class UsageError extends Error {}

type CliOptions = NonNullable<ParseArgsConfig["options"]>;

/** A subcommand's arguments: positionals allowed, unknown options refused, any problem a UsageError. */
export function parseCliArgs<O extends CliOptions>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const registry = new Map<string, CliCommand>();

export function registerCommand(cmd: CliCommand): void {
  if (registry.has(cmd.name)) throw new Error(`CLI command '${cmd.name}' registered twice`);
  registry.set(cmd.name, cmd);
}

export function getCommand(name: string): CliCommand | undefined {
  return registry.get(name);
}

export function listCommands(): CliCommand[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}
