import type { Command } from 'commander';
import { registerInit } from './init.js';
import { registerIngest } from './ingest.js';
import { registerSimulate } from './simulate.js';
import { registerLedger } from './ledger.js';
import { registerVerify } from './verify.js';
import { registerServe } from './serve.js';
import { registerUsers } from './users.js';
import { registerDaemon } from './daemon.js';
import { registerDevices } from './devices.js';
import { registerDemo } from './demo.js';
import { registerCases } from './cases.js';
import { registerPurge } from './purge.js';
import { registerAssignments } from './assignments.js';
import { registerFlags } from './flags.js';
import { registerReport } from './report.js';
import { registerVerifyExport } from './verify-export.js';
import { registerExport } from './export.js';

/** Each command module registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerInit,
  registerIngest,
  registerSimulate,
  registerVerify,
  registerLedger,
  registerServe,
  registerUsers,
  registerDaemon,
  registerDevices,
  registerDemo,
  registerCases,
  registerPurge,
  registerAssignments,
  registerFlags,
  registerReport,
  registerVerifyExport,
  registerExport,
];
