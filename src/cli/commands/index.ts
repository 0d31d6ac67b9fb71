import type { Command } from 'commander';

/**
 * Every command of `custody`, as data: name, description, arguments and options, and
 * a loader for the module that runs it. Building the program reads this table only,
 * so `custody --version`, `--help` and `custody <cmd> --help` load commander and
 * nothing else; a command's module — and what it needs (SQLite, the AWS SDK, fastify,
 * sharp, usb …) — is imported when that command runs (issue 13).
 *
 * This module must import nothing at run time but types: the startup test
 * (test/e2e/cli-startup.test.ts) fails when `--help` loads more. Lists shown in help
 * texts are written out here; src/cli/commands/table.test.ts holds them equal to the
 * lists the capabilities enforce.
 */

/** A command's action as commander calls it: its arguments, then its options, then the command. */
export type Action = (...args: never[]) => unknown;

export interface OptionSpec {
  /** Commander's flags, e.g. `--limit <n>` or `--no-follow-up`. */
  flags: string;
  description?: string;
  default?: string | boolean | string[];
  /** `requiredOption`: commander refuses the command without it. */
  required?: boolean;
  /** Turns each value into the option's value (e.g. collect repeated options). */
  parse?: (value: string, previous: never) => unknown;
}

export interface CommandSpec {
  /** The name, with arguments inline where they have no description (`show <case>`). */
  name: string;
  description: string;
  /** Arguments with a description, shown under "Arguments:". */
  arguments?: ReadonlyArray<readonly [name: string, description: string]>;
  options?: readonly OptionSpec[];
  /** Imports the module that runs the command; called only when the command runs. */
  load?: () => Promise<Action>;
  subcommands?: readonly CommandSpec[];
}

/** Lists shown in help texts (kept equal to the enforced ones by table.test.ts). */
export const HELP_LISTS = {
  rosterColumns: ['officer', 'name', 'unit', 'recorder', 'start', 'end'],
  holdReasons: ['dispute', 'obstruction', 'sensitive', 'other'],
  roles: ['operator', 'supervisor', 'archivist', 'auditor', 'admin'],
  recorderStatuses: ['in-service', 'reported-damaged', 'in-repair', 'retired'],
  udevDefaults: { user: 'custody', group: 'custody', mountDir: '/media/custody' },
  flagRules: ['late-upload', 'missing-upload', 'sequence-gap', 'recording-gap', 'clock-drift', 'repair-overdue', 'attribution-conflict'],
  flagStates: ['open', 'escalated', 'resolved'],
  reportFormats: ['table', 'csv', 'json'],
} as const;

const L = HELP_LISTS;
/** Commands a second person must take act as a custody user, proven by their own token (issue 14). */
const TOKEN_FILE: OptionSpec = {
  flags: '--token-file <file>',
  description: 'act as the custody user whose token this file holds (readable by its owner only); default: the CUSTODY_TOKEN environment variable',
};

const init: CommandSpec = {
  name: 'init',
  description: 'create the custody home: config, catalog, vault and station key (idempotent)',
  load: () => import('./init.js').then((m) => m.initCommand),
};

const ingest: CommandSpec = {
  name: 'ingest',
  description: 'ingest a mounted recorder or folder into the vault (one-shot)',
  arguments: [['<dir>', 'the recorder mount point or folder']],
  options: [
    { flags: '--serial <serial>', description: 'recorder serial (else from the recorder status file)' },
    { flags: '--officer <number>', description: 'officer number' },
    { flags: '--unit <unit>', description: 'unit (科室)' },
    { flags: '--model <model>', description: 'recorder model' },
    { flags: '--wipe', description: 'delete each file from the recorder once its vault copy is verified (overrides ingest.wipeAfterIngest)' },
    { flags: '--no-follow-up', description: 'do not run media probes and thumbnails now (they stay queued)' },
  ],
  load: () => import('./ingest.js').then((m) => m.ingestCommand),
};

const simulate: CommandSpec = {
  name: 'simulate',
  description: 'simulate hardware, for tests and demonstrations',
  subcommands: [
    {
      name: 'recorder',
      description: 'write a simulated body-worn recorder (clips, audio, photos, RECORDER.JSON) into an empty folder',
      options: [
        { flags: '--out <dir>', description: 'the recorder root (created; must be empty)', required: true },
        { flags: '--serial <serial>', description: 'recorder serial (default SIM0001)' },
        { flags: '--officer <number>', description: 'officer number (default 100001)' },
        { flags: '--officer-name <name>', description: 'officer name' },
        { flags: '--unit <number>', description: 'unit number (default 350200000000)' },
        { flags: '--model <model>', description: 'recorder model (default SIM-DSJ-1)' },
        { flags: '--clips <n>', description: 'video clips (default 3)' },
        { flags: '--seconds <s>', description: 'length of each clip and of the audio recording (default 5)' },
        { flags: '--recorded-at <iso>', description: 'true time of the first recording (default one hour ago)' },
        { flags: '--clock-offset <sec>', description: 'recorder clock minus true time in seconds, e.g. 90 or -45 (default 0)' },
        { flags: '--battery <pct>', description: 'battery percent (default 80)' },
        { flags: '--first-number <n>', description: "the recorder's file counter at the first file (default 1)" },
        { flags: '--clip-bytes <n>', description: 'pad each clip to at least this many bytes (benchmarks)' },
        { flags: '--timezone <zone>', description: 'zone of the recorder clock (default: the configured timezone)' },
      ],
      load: () => import('./simulate.js').then((m) => m.simulateRecorderCommand),
    },
  ],
};

const verify: CommandSpec = {
  name: 'verify',
  description: 'check the ledger hash chain, the sealed ledger segments and every object the ledger references',
  options: [
    { flags: '--deep', description: 're-hash every referenced object (reads all footage)' },
    { flags: '--unclaimed', description: "also list the vault's objects that no ledger entry names (kept, never deleted; not a failure)" },
  ],
  load: () => import('./verify.js').then((m) => m.verifyCommand),
};

const doctor: CommandSpec = {
  name: 'doctor',
  description: 'check the station and say what to fix: permissions of the home, catalog and key, free space, clock synchronisation, USB and mount access, Redis and S3, the last catalog snapshot (docs/operations.md); exit 1 when a check fails',
  load: () => import('./doctor.js').then((m) => m.doctorCommand),
};

const ledger: CommandSpec = {
  name: 'ledger',
  description: 'the hash-chained ledger: export, seal, rebuild, checkpoints and proofs',
  subcommands: [
    {
      name: 'export',
      description: 'write ledger entries as JSON Lines (one canonical entry per line; docs/ledger.md)',
      options: [
        { flags: '--from <seq>', description: 'first entry (default 1)' },
        { flags: '--to <seq>', description: 'last entry (default: the newest)' },
        { flags: '--out <file>', description: 'write to a new file instead of stdout' },
      ],
      load: () => import('./ledger.js').then((m) => m.exportCommand),
    },
    {
      name: 'seal',
      description: 'seal every unsealed entry into the vault now, including a partial segment',
      load: () => import('./ledger.js').then((m) => m.sealCommand),
    },
    {
      name: 'rebuild',
      description: "rebuild the catalog's ledger from the vault's segments (or compare, when the catalog has one)",
      options: [{ flags: '--no-evidence', description: 'do not rebuild evidence rows from the entries' }],
      load: () => import('./ledger.js').then((m) => m.rebuildCommand),
    },
    {
      name: 'checkpoint',
      description: "print the latest signed checkpoint of the ledger's Merkle tree, signing a new one first if the ledger grew",
      options: [{ flags: '--verifier-key', description: 'print the key that verifies the checkpoints instead (for auditors)' }],
      load: () => import('./ledger-proof.js').then((m) => m.checkpointCommand),
    },
    {
      name: 'proof',
      description: 'prove that an entry is in the ledger: an inclusion proof to a signed checkpoint, as JSON (docs/proofs.md)',
      arguments: [['<seq>', 'ledger entry to prove']],
      options: [{ flags: '--size <n>', description: 'tree size to prove against (default: the latest checkpoint, signed first if the entry is newer)' }],
      load: () => import('./ledger-proof.js').then((m) => m.proofCommand),
    },
    {
      name: 'consistency',
      description: "verify that the current ledger extends a saved checkpoint (and the witnesses'); exit 1 when history was rewritten",
      options: [
        { flags: '--from <file>', description: 'a saved signed checkpoint' },
        { flags: '--witnesses', description: 'check the latest checkpoint of every configured witness folder' },
        { flags: '--key <key>', description: 'trusted key: a verifier key (name+id+key) or an Ed25519 public key PEM file (default: the station public key)' },
      ],
      load: () => import('./ledger-proof.js').then((m) => m.consistencyCommand),
    },
  ],
};

const serve: CommandSpec = {
  name: 'serve',
  description: 'serve the HTTP API (docs/api.md) in the foreground until SIGTERM; prints the address it listens on',
  options: [
    { flags: '--host <host>', description: 'address to bind (default api.host, 127.0.0.1)' },
    { flags: '--port <port>', description: 'port to bind; 0 picks a free one (default api.port, 8470)' },
  ],
  load: () => import('./serve.js').then((m) => m.serveCommand),
};

const EXPIRES: OptionSpec = { flags: '--expires-days <days>', description: 'token lifetime in days; 0: never (default api.tokenTtlDays)' };

const users: CommandSpec = {
  name: 'users',
  description: 'API users and their tokens (docs/api.md); every change is ledgered',
  subcommands: [
    {
      name: 'add',
      description: 'create a user and print their token, once: it is stored only as a hash',
      options: [
        { flags: '--name <name>', description: 'the person, as shown in the ledger and to approvers', required: true },
        { flags: '--role <role>', description: `one of ${L.roles.join(', ')}`, required: true },
        { flags: '--unit <unit>', description: 'limit the user to one unit (科室); default: all units' },
        EXPIRES,
      ],
      load: () => import('./users.js').then((m) => m.usersAddCommand),
    },
    {
      name: 'list',
      description: 'list users (never their tokens)',
      options: [{ flags: '--all', description: 'include revoked users' }],
      load: () => import('./users.js').then((m) => m.usersListCommand),
    },
    {
      name: 'revoke <id>',
      description: 'revoke a user: their token stops working at once',
      load: () => import('./users.js').then((m) => m.usersRevokeCommand),
    },
    {
      name: 'role <id>',
      description: "change a user's role (and unit: '' for every unit); ledgered as user.role-changed",
      options: [
        { flags: '--role <role>', description: `one of ${L.roles.join(', ')}`, required: true },
        { flags: '--unit <unit>', description: "limit the user to this unit (科室); '' for all units; default: unchanged" },
      ],
      load: () => import('./users.js').then((m) => m.usersRoleCommand),
    },
    {
      name: 'token <id>',
      description: 'issue a new token for a user (the old one stops working); printed once',
      options: [EXPIRES],
      load: () => import('./users.js').then((m) => m.usersTokenCommand),
    },
    {
      name: 'set-password <user>',
      description: 'set a user\'s console password (by name or id): asked twice at a terminal, else the first line of stdin',
      options: [{ flags: '--generate', description: 'an administrator\'s reset: a random password, printed once' }],
      load: () => import('./users.js').then((m) => m.usersSetPasswordCommand),
    },
  ],
};

const daemon: CommandSpec = {
  name: 'daemon',
  description: 'run unattended: detect docked recorders, check their health, ingest them, run follow-up jobs and seal the ledger (JSON logs on stdout)',
  load: () => import('./daemon.js').then((m) => m.daemonCommand),
};

const devices: CommandSpec = {
  name: 'devices',
  description: 'the device registry: recorders, their status and their dock and health history',
  subcommands: [
    {
      name: 'list',
      description: 'every registered recorder with its status and last pre-duty verdict',
      load: () => import('./devices.js').then((m) => m.devicesListCommand),
    },
    {
      name: 'show',
      description: 'one recorder: identity, status, evidence held, and its docks with each health snapshot',
      arguments: [['<serial>', 'recorder serial']],
      options: [{ flags: '--docks <n>', description: 'how many recent docks to show', default: '20' }],
      load: () => import('./devices.js').then((m) => m.devicesShowCommand),
    },
    {
      name: 'set-status',
      description: `change a recorder's status (${L.recorderStatuses.join(', ')}); recorded in the ledger`,
      arguments: [
        ['<serial>', 'recorder serial'],
        ['<status>', L.recorderStatuses.join(' | ')],
      ],
      options: [{ flags: '--note <text>', description: 'why (e.g. "screen cracked, handed to the information centre")' }],
      load: () => import('./devices.js').then((m) => m.devicesSetStatusCommand),
    },
    {
      name: 'udev-rules',
      description: 'print udev rules for the known recorder models (scripts/install.sh installs them)',
      options: [
        { flags: '--user <user>', description: 'service user', default: L.udevDefaults.user },
        { flags: '--group <group>', description: 'service group', default: L.udevDefaults.group },
        { flags: '--mount-dir <dir>', description: 'where recorder filesystems are mounted (under a mount root)', default: L.udevDefaults.mountDir },
        { flags: '--profiles <file>', description: 'profiles file (default: devices.profilesFile, else the bundled one)' },
      ],
      load: () => import('./devices.js').then((m) => m.devicesUdevRulesCommand),
    },
    {
      name: 'unknown',
      description: 'USB devices the daemon saw attached that no recorder profile claims (models to learn)',
      options: [{ flags: '--profiles <file>', description: 'profiles file (default: devices.profilesFile, else the bundled one)' }],
      load: () => import('./devices.js').then((m) => m.devicesUnknownCommand),
    },
    {
      name: 'learn',
      description: "add a recorder model to the station's profiles file (never the bundled one), from its USB id",
      arguments: [['<VID:PID>', 'the USB id as `custody devices unknown` shows it, e.g. abcd:1234']],
      options: [
        { flags: '--model <name>', description: 'the model name', required: true },
        { flags: '--driver <driver>', description: 'gat947 (GA/T 947.4: identity, battery, clock from the recorder) | mass-storage', required: true },
        {
          flags: '--param <k=v>',
          description: 'a profile setting (layout.mediaDirs=[DCIM], unknownIsNotReady=false) or GA/T 947.4 parameter (commands.getTime=0x20, password.file=PATH); repeat',
          parse: (v: string, prev: string[]) => [...prev, v],
          default: [],
        },
        { flags: '--id <id>', description: 'profile id (default: from the model name)' },
        { flags: '--name <text>', description: 'what people call it' },
        { flags: '--profiles <file>', description: "the station's profiles file (default: devices.profilesFile)" },
      ],
      load: () => import('./devices.js').then((m) => m.devicesLearnCommand),
    },
  ],
};

const demo: CommandSpec = {
  name: 'demo',
  description: 'a temporary custody station: the daemon, four simulated recorders docked through detection, pre-duty verdicts, ingest, a verified ledger',
  options: [
    { flags: '--exit', description: 'stop when the summary is printed (the default when stdin is not a terminal)' },
    { flags: '--clips <n>', description: 'video clips per recorder', default: '2' },
  ],
  load: () => import('./demo.js').then((m) => m.demoCommand),
};

const cases: CommandSpec = {
  name: 'cases',
  description: 'cases, their evidence and their holds (Art. 12; docs/retention.md); every change is ledgered',
  subcommands: [
    {
      name: 'create',
      description: 'create a case',
      options: [
        { flags: '--number <number>', description: 'the case number (unique within its unit; a number several units use is then named by the case id)', required: true },
        { flags: '--name <name>', description: 'the case or activity name', required: true },
        { flags: '--unit <unit>', description: 'the unit (科室) it belongs to; default: bureau-wide' },
      ],
      load: () => import('./cases.js').then((m) => m.casesCreateCommand),
    },
    {
      name: 'list',
      description: 'list cases, newest first',
      options: [{ flags: '--unit <unit>', description: "only this unit's cases" }],
      load: () => import('./cases.js').then((m) => m.casesListCommand),
    },
    {
      name: 'show <case>',
      description: 'a case (id or number): its evidence with retention dates, and its holds',
      load: () => import('./cases.js').then((m) => m.casesShowCommand),
    },
    {
      name: 'link <case> <evidenceIds...>',
      description: 'link evidence items to a case (id or number); linking to a held case holds them too',
      load: () => import('./cases.js').then((m) => m.casesLinkCommand),
    },
    {
      name: 'hold <case>',
      description: 'protect a case (Art. 12): its items are never purged until the hold is released',
      options: [
        { flags: '--reason <reason>', description: `one of ${L.holdReasons.join(', ')}`, required: true },
        { flags: '--text <text>', description: 'what happened (required with --reason other)' },
      ],
      load: () => import('./cases.js').then((m) => m.casesHoldCommand),
    },
    {
      name: 'release-request <holdId>',
      description: 'ask for a hold to be released; it keeps holding until someone else approves',
      options: [{ flags: '--reason <text>', description: 'why the hold may end', required: true }, TOKEN_FILE],
      load: () => import('./cases.js').then((m) => m.casesReleaseRequestCommand),
    },
    {
      name: 'release-approve <holdId>',
      description: 'approve a requested release, as a custody user other than who asked',
      options: [TOKEN_FILE],
      load: () => import('./cases.js').then((m) => m.casesReleaseApproveCommand),
    },
  ],
};

const purge: CommandSpec = {
  name: 'purge',
  description: 'run the retention purge now (Art. 11; docs/retention.md): announce items entering the notice period, purge announced items that are due',
  options: [
    { flags: '--dry-run', description: 'report what a run would do and change nothing' },
    { flags: '--force', description: 'run even when the clock jumped or more than retention.maxPurgeFraction would go (never when the vault does not verify)' },
  ],
  load: () => import('./purge.js').then((m) => m.purgeCommand),
};

const assignments: CommandSpec = {
  name: 'assignments',
  description: 'which officer had which recorder when (shifts); footage is attributed and compliance judged through them (docs/compliance.md)',
  subcommands: [
    {
      name: 'add',
      description: 'assign a recorder to an officer from --start (to --end); times are local in the configured timezone unless they carry a zone',
      options: [
        { flags: '--officer <number>', description: 'officer number', required: true },
        { flags: '--recorder <serial>', description: 'recorder serial', required: true },
        { flags: '--start <time>', description: 'e.g. "2026-11-20 08:00" or 2026-11-20T08:00:00+08:00', required: true },
        { flags: '--end <time>', description: 'end of the shift (default: open until `assignments end`)' },
        { flags: '--name <name>', description: "the officer's name (needed the first time; updates it otherwise)" },
        { flags: '--unit <unit>', description: "the officer's unit (科室)" },
      ],
      load: () => import('./assignments.js').then((m) => m.assignmentsAddCommand),
    },
    {
      name: 'end',
      description: 'end an open assignment (the recorder was handed back), now or --at a time',
      arguments: [['<id>', 'assignment id']],
      options: [{ flags: '--at <time>', description: 'when it ended' }],
      load: () => import('./assignments.js').then((m) => m.assignmentsEndCommand),
    },
    {
      name: 'list',
      description: 'assignments, oldest first, optionally those overlapping --from/--to',
      options: [
        { flags: '--unit <unit>' },
        { flags: '--officer <number>' },
        { flags: '--recorder <serial>' },
        { flags: '--from <time>' },
        { flags: '--to <time>' },
        { flags: '--open', description: 'only those not ended' },
        { flags: '--limit <n>', description: 'at most this many', default: '1000' },
      ],
      load: () => import('./assignments.js').then((m) => m.assignmentsListCommand),
    },
    {
      name: 'import',
      description: `import a duty roster: CSV (UTF-8, BOM optional) with a header line naming the columns ${L.rosterColumns.join(',')}; every bad line is reported and then nothing is imported`,
      arguments: [['<file>', 'the roster CSV']],
      load: () => import('./assignments.js').then((m) => m.assignmentsImportCommand),
    },
    {
      name: 'officer',
      description: 'register or update an officer; --user links their own API user, who may then never approve a flag about them',
      arguments: [['<number>', 'officer number']],
      options: [{ flags: '--name <name>', required: true }, { flags: '--unit <unit>' }, { flags: '--user <id>', description: "the officer's API user id" }],
      load: () => import('./assignments.js').then((m) => m.assignmentsOfficerCommand),
    },
  ],
};

const flags: CommandSpec = {
  name: 'flags',
  description: 'compliance flags: late and missing uploads, gaps, clock drift, overdue repairs (docs/compliance.md)',
  subcommands: [
    {
      name: 'list',
      description: 'flags, newest first',
      options: [
        { flags: '--rule <rule>', description: L.flagRules.join(' | ') },
        { flags: '--unit <unit>' },
        { flags: '--officer <number>' },
        { flags: '--recorder <serial>' },
        { flags: '--state <state>', description: `${L.flagStates.join(' | ')} | unresolved` },
        { flags: '--limit <n>', description: 'at most this many', default: '500' },
      ],
      load: () => import('./flags.js').then((m) => m.flagsListCommand),
    },
    {
      name: 'resolve',
      description: 'resolve a flag with a written reason, approved by the custody user running it: a supervisor or admin who is not the officer it is about (Art. 16); ledgered',
      arguments: [['<id>', 'flag id']],
      options: [
        { flags: '--reason <text>', description: "the written reason (for a recording gap: the officer's work record)", required: true },
        TOKEN_FILE,
      ],
      load: () => import('./flags.js').then((m) => m.flagsResolveCommand),
    },
    {
      name: 'scan',
      description: 'run every rule now (the daemon does this on a timer and after every dock); idempotent',
      options: [{ flags: '--full', description: 'read all evidence and assignments again, not only what changed since the last scan' }],
      load: () => import('./flags.js').then((m) => m.flagsScanCommand),
    },
  ],
};

const report: CommandSpec = {
  name: 'report',
  description: 'reports',
  subcommands: [
    {
      name: 'compliance',
      description: 'per unit and officer, footage recorded in the period: assignments, clips, hours recorded, on-time rate, median and worst upload delay, open flags by rule',
      options: [
        { flags: '--from <date>', description: 'first day (YYYY-MM-DD, local) or a date-time', required: true },
        { flags: '--to <date>', description: 'last day, inclusive (YYYY-MM-DD, local) or an exclusive date-time', required: true },
        { flags: '--unit <unit>', description: 'only this unit' },
        { flags: '--format <format>', description: L.reportFormats.join(' | '), default: 'table' },
      ],
      load: () => import('./report.js').then((m) => m.reportComplianceCommand),
    },
  ],
};

const verifyExport: CommandSpec = {
  name: 'verify-export',
  description: 'check an archival export copy offline: the BagIt bag, every checksum, the ledger excerpt and its proofs',
  arguments: [['<dir>', 'the copy (the bag directory)']],
  options: [
    { flags: '--key <verifierKey>', description: 'the station checkpoint verifier key you hold (default: the one in the copy)' },
    { flags: '--record', description: 'record the result against the export on this station (export.verified), as a custody user who may export: e.g. a burned disc re-mounted' },
    TOKEN_FILE,
  ],
  load: () => import('./verify-export.js').then((m) => m.verifyExportCommand),
};

const exportCase: CommandSpec = {
  name: 'export',
  description: 'write the archival copies of a protected case (BagIt, verified as read back), one per --to, as a custody user holding an approved access request for the case',
  options: [
    { flags: '--case <case>', description: 'case id or number', required: true },
    { flags: '--to <dir>', description: 'destination of one copy (repeat: one per copy)', parse: (v: string, prev: string[]) => [...prev, v], default: [] },
    { flags: '--maker <name>', description: 'who makes the copies (on the label and in bag-info.txt; default: the system user)' },
    { flags: '--iso', description: 'also make an ISO 9660 image of each copy for burning (needs xorriso)' },
    TOKEN_FILE,
  ],
  load: () => import('./export.js').then((m) => m.exportCaseCommand),
};

const requests: CommandSpec = {
  name: 'requests',
  description: 'access requests (Art. 13): ask to view footage, approve or deny others\' requests, revoke a grant — each as the custody user whose token is given',
  subcommands: [
    { name: 'list', description: 'my requests, newest first (--to-decide: the pending requests by others I may decide)', options: [{ flags: '--to-decide' }, { flags: '--limit <n>', default: '50' }, TOKEN_FILE], load: () => import('./requests.js').then((m) => m.requestsListCommand) },
    { name: 'show <id>', description: 'one request: items, reason, decision, grant or revocation', options: [TOKEN_FILE], load: () => import('./requests.js').then((m) => m.requestsShowCommand) },
    {
      name: 'ask',
      description: 'ask to view evidence items or a case (its items in your scope), with a reason',
      options: [
        { flags: '--item <id>', description: 'an evidence id (repeat for more)', parse: (v: string, prev: string[]) => [...prev, v], default: [] },
        { flags: '--case <case>', description: 'a case id or number, instead of --item' },
        { flags: '--reason <text>', description: 'why (registered with the request)', required: true },
        { flags: '--hours <n>', description: 'how long you need to view (the approval\'s default length; at most api.grantMaxHours)' },
        TOKEN_FILE,
      ],
      load: () => import('./requests.js').then((m) => m.requestsAskCommand),
    },
    {
      name: 'approve <id>',
      description: 'approve someone else\'s request (supervisor or admin of its items\' unit), for --hours or --until (default: the hours asked for, else api.grantDefaultHours)',
      options: [{ flags: '--hours <n>' }, { flags: '--until <date-time>' }, { flags: '--note <text>' }, TOKEN_FILE],
      load: () => import('./requests.js').then((m) => m.requestsApproveCommand),
    },
    { name: 'deny <id>', description: 'deny someone else\'s request', options: [{ flags: '--note <text>' }, TOKEN_FILE], load: () => import('./requests.js').then((m) => m.requestsDenyCommand) },
    { name: 'revoke <id>', description: 'end a grant before its expiry (its approver, or an admin)', options: [{ flags: '--note <text>' }, TOKEN_FILE], load: () => import('./requests.js').then((m) => m.requestsRevokeCommand) },
  ],
};

const backup: CommandSpec = {
  name: 'backup',
  description: 'snapshot the catalog into the vault now (ledgered with its hash and the ledger size it holds); old snapshots are pruned (docs/operations.md)',
  load: () => import('./backup.js').then((m) => m.backupCommand),
};

const restore: CommandSpec = {
  name: 'restore',
  description: "rebuild a lost station into a new --home from its vault alone: the newest snapshot, then every sealed ledger entry after it (docs/operations.md)",
  options: [
    { flags: '--from <vault>', description: 'an fs vault folder; without it, the vault --config describes (e.g. S3)' },
    { flags: '--key <file>', description: 'the station key kept offline (custody key export); without it a new key is made and the rotation ledgered' },
  ],
  load: () => import('./restore.js').then((m) => m.restoreCommand),
};

const key: CommandSpec = {
  name: 'key',
  description: "the station's signing key",
  subcommands: [
    {
      name: 'export',
      description: 'write the station key (PEM, mode 0600) to a new file, to keep offline for custody restore --key',
      options: [{ flags: '--out <file>', description: 'the file to create', required: true }],
      load: () => import('./key.js').then((m) => m.keyExportCommand),
    },
  ],
};

/** The commands in the order `custody --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  init,
  ingest,
  simulate,
  verify,
  doctor,
  ledger,
  serve,
  users,
  daemon,
  devices,
  demo,
  cases,
  purge,
  assignments,
  flags,
  report,
  verifyExport,
  exportCase,
  requests,
  backup,
  restore,
  key,
];

/**
 * Add one command (and its subcommands) to a parent. The action imports the command's
 * module when commander calls it, then runs it with what commander passed.
 */
export function registerCommand(parent: Command, spec: CommandSpec): Command {
  const cmd = parent.command(spec.name).description(spec.description);
  for (const [name, description] of spec.arguments ?? []) cmd.argument(name, description);
  for (const o of spec.options ?? []) {
    if (o.required) cmd.requiredOption(o.flags, o.description ?? '', o.default);
    else if (o.parse) cmd.option(o.flags, o.description ?? '', o.parse as (value: string, previous: unknown) => unknown, o.default);
    else cmd.option(o.flags, o.description ?? '', o.default);
  }
  const load = spec.load;
  if (load) {
    cmd.action(async (...args: unknown[]) => {
      const action = (await load()) as (...a: unknown[]) => unknown;
      await action(...args);
    });
  }
  for (const sub of spec.subcommands ?? []) registerCommand(cmd, sub);
  cmd.exitOverride();
  return cmd;
}

/** Register every command of the table on the program. */
export function registerCommands(program: Command, specs: readonly CommandSpec[] = COMMANDS): void {
  for (const spec of specs) registerCommand(program, spec);
}
