import { Command, CommanderError, Option } from 'commander';
import { registerCommands } from './commands/index.js';
import { EXIT_USAGE } from './exit-codes.js';

export function buildProgram(): Command {
  const program = new Command('custody')
    .description('Body-camera ingestion and evidence vault')
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('--home <dir>', 'custody home: catalog, default vault and keys (env CUSTODY_HOME)')
    .option('--config <file>', 'configuration file (default <home>/custody.yaml)')
    .option('--json', 'machine-readable output on stdout')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .showHelpAfterError(false)
    .exitOverride();
  // From the light table: each command's module loads only when it runs.
  registerCommands(program);
  return program;
}

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    // commander has printed its message (or the help, or the version: exit code 0)
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
    // Only a command that ran gets here, so custody's error classes are loaded already.
    const { describeError, exitCodeFor } = await import('./errors.js');
    process.stderr.write(`custody: ${describeError(e)}\n`);
    return exitCodeFor(e);
  }
}
