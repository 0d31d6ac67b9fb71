import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * JSON logs to a destination (stdout for the daemon, where journald keeps them;
 * stderr for one-shot CLI commands so stdout stays machine-readable).
 */
export function createLogger(opts: { level: LevelWithSilent; destination?: 1 | 2 }): Logger {
  return pino(
    { level: opts.level, base: { app: 'custody' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: opts.destination ?? 1, sync: true }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
