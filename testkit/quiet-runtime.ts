import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogEntry } from '@temporalio/worker';

function toConsole({ level, message, meta }: LogEntry): void {
  console.warn(`[temporal ${level}] ${message}${meta && Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : ''}`);
}

/**
 * The Temporal runtime of a test or benchmark process: warnings only, core's included
 * (forwarded from Rust), through console.warn, which vitest shows only for a failing test.
 * Once per process: the first call installs it, later ones (another bench in the same process,
 * a runtime some worker already made) change nothing.
 */
export function quietRuntime(): void {
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN', toConsole),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
    });
  } catch {
    // Installed already.
  }
}
