/**
 * The command line (`custody`): the program and its commands, each loaded only
 * when it runs (commands/index.ts is the light table). `main.ts` is the binary.
 */
export { buildProgram, run } from './program.js';
