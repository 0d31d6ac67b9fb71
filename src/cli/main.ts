#!/usr/bin/env node
import { run } from './program.js';

const code = await run(process.argv);
process.exitCode = code;
