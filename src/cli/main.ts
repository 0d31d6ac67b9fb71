#!/usr/bin/env node
// Node's I/O thread pool is made at its first use, with UV_THREADPOOL_SIZE threads
// (default 4): set before anything is loaded that could use it, so a one-shot
// `custody ingest` reads, writes and syncs with as many threads as the daemon (its
// systemd unit sets 16). On Node 22 and 24 the pool is not yet made here; an explicit
// setting in the environment wins.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { run } = await import('./program.js');

const code = await run(process.argv);
process.exitCode = code;
