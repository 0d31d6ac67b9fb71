/**
 * Every error code custody uses, in one table: the HTTP status the API answers with,
 * whether trying the same thing again can help, and what it means.
 *
 * `CustodyError.code` is typed as a key of this table, so a code that is not here does
 * not compile, and the API's error handler takes its status from here: no code can
 * fall through to a 500 by being forgotten. `docs/api.md` lists the same table (a test
 * compares them).
 *
 * A 4xx answer carries the error's own message. A 5xx carries `public` when the entry
 * has one (what kind of trouble it is, never its details); otherwise the client sees
 * `INTERNAL` "internal error", and the details stay in the log.
 */
export interface ErrorSpec {
  readonly http: number;
  readonly retryable: boolean;
  readonly meaning: string;
  /** For a 5xx: the message the client sees instead of the error's own. */
  readonly public?: string;
}

export const ERROR_CODES = {
  // --- requests (the API) ---
  BAD_REQUEST: { http: 400, retryable: false, meaning: 'the request fails its schema, its body is not JSON, or a URL does not decode (the message names the field)' },
  INVALID_INPUT: { http: 400, retryable: false, meaning: 'well-formed but unacceptable input: from not before to, an expiry in the past or too far, a cursor from another list' },
  USAGE: { http: 400, retryable: false, meaning: 'bad command-line usage, or an export with the wrong number of destinations or two that overlap' },
  TOKEN_IN_URL: { http: 400, retryable: false, meaning: 'a token (or anything named like a credential) in the query string: tokens are accepted only in the Authorization header' },
  ROSTER_INVALID: { http: 400, retryable: false, meaning: 'a duty roster with bad lines (each named); nothing of it was imported' },
  AUTH_REQUIRED: { http: 401, retryable: false, meaning: 'no token, or one that is unknown, malformed, revoked or expired' },
  SIGN_IN_FAILED: { http: 401, retryable: false, meaning: 'a console sign-in whose name or password is wrong (which one is not said)' },
  PASSWORD_CHANGE_REQUIRED: { http: 403, retryable: false, meaning: 'a console session whose user signed in with a password someone else set (a new user\'s, a reset): until it is changed, only GET and DELETE /session and POST /session/password are answered' },
  CSRF_REFUSED: { http: 403, retryable: false, meaning: 'a state-changing request with a session cookie but without the X-Custody-CSRF header or from another origin' },
  FORBIDDEN: { http: 403, retryable: false, meaning: 'the role may not do this (or a scoped user asked for something unit-wide)' },
  ACCESS_GRANT_REQUIRED: { http: 403, retryable: false, meaning: 'footage without an approved, unexpired grant for this user and item' },
  ACCESS_SELF_DECISION: { http: 403, retryable: false, meaning: 'deciding one\'s own access request' },
  HOLD_SELF_APPROVAL: { http: 403, retryable: false, meaning: 'approving the release of a hold one asked to release' },
  FLAG_SELF_APPROVAL: { http: 403, retryable: false, meaning: 'resolving a flag about oneself (one\'s own officer number)' },
  EXPORT_DESTINATION_FORBIDDEN: { http: 403, retryable: false, meaning: 'an export destination outside archive.destinationRoots, or with a symlink below its root' },
  EXPORT_CASE_NOT_PROTECTED: { http: 403, retryable: false, meaning: 'exporting a case with no unreleased hold' },
  EXPORT_GRANT_REQUIRED: { http: 403, retryable: false, meaning: 'exporting without one\'s own approved, unexpired access request for the case' },
  EXPORT_APPROVER_INVALID: { http: 403, retryable: false, meaning: 'the access request was approved by someone who may no longer approve for the case\'s unit' },
  NOT_FOUND: { http: 404, retryable: false, meaning: 'no such route, item, request or device, or one outside the caller\'s unit' },
  ACCESS_REQUEST_DECIDED: { http: 409, retryable: false, meaning: 'the access request was already decided' },
  ACCESS_REQUEST_NOT_GRANTED: { http: 409, retryable: false, meaning: 'revoking what is not a current grant' },
  VERIFY_RUNNING: { http: 409, retryable: true, meaning: 'a vault verification is already running' },
  FLAG_RESOLVED: { http: 409, retryable: false, meaning: 'the flag was already resolved' },
  ASSIGNMENT_OVERLAP: { http: 409, retryable: false, meaning: 'the recorder is already assigned to someone for part of that time' },
  ASSIGNMENT_ENDED: { http: 409, retryable: false, meaning: 'the assignment has already ended' },
  RECORDER_STATUS_TRANSITION: { http: 409, retryable: false, meaning: 'a recorder status change the repair workflow does not allow (reported damaged → in repair → in service, or retired; a retired recorder stays retired)' },
  CASE_NUMBER_TAKEN: { http: 409, retryable: false, meaning: 'the case number is already in use in the case\'s unit (numbers are unique per unit, and among the bureau-wide cases)' },
  CASE_NUMBER_AMBIGUOUS: { http: 409, retryable: false, meaning: 'a case named by a number that several units use: the message lists them with their ids; name the case by its id' },
  USER_SELF_REVOKE: { http: 409, retryable: false, meaning: 'an administrator revoking themselves (another administrator does it)' },
  HOLD_STATE: { http: 409, retryable: false, meaning: 'the hold is not in the state the operation needs (release not asked, or already released)' },
  PURGE_RUNNING: { http: 409, retryable: true, meaning: 'a purge run is already in progress' },
  EXPORT_RUNNING: { http: 409, retryable: true, meaning: 'an export is already running' },
  EXPORT_EMPTY: { http: 409, retryable: false, meaning: 'the case has no live item to export' },
  EXPORT_ISO_UNAVAILABLE: { http: 409, retryable: false, meaning: 'ISO images were asked for, but xorriso is not installed' },
  EXPORT_COPY_MISMATCH: { http: 409, retryable: false, meaning: 'recording the check of a folder that is not a copy of that export' },
  EVIDENCE_PURGED: { http: 410, retryable: false, meaning: 'the item was purged under retention; its record remains' },
  BODY_TOO_LARGE: { http: 413, retryable: false, meaning: 'a request body over 64 KiB' },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, retryable: false, meaning: 'a request body that is not application/json' },
  RANGE_NOT_SATISFIABLE: { http: 416, retryable: false, meaning: 'a byte range starting past the end of the object' },
  AUTH_RATE_LIMITED: { http: 429, retryable: true, meaning: 'too many failed sign-ins from this address (Retry-After)' },
  INTERNAL: { http: 500, retryable: false, meaning: 'a fault; the message never shows internals, and a requestId finds it in the log' },
  API_LISTEN_FAILED: { http: 500, retryable: false, meaning: 'the API cannot listen on its address and port' },
  API_NO_PRINCIPAL: { http: 500, retryable: false, meaning: 'a route was reached without authentication (a wiring fault)' },
  CATALOG_BUSY: { http: 503, retryable: true, meaning: 'another process held the catalog\'s write lock too long', public: 'the catalog is busy; try again' },

  // --- configuration, the catalog, the CLI ---
  CONFIG_INVALID: { http: 500, retryable: false, meaning: 'the configuration is invalid (every problem is listed)' },
  CATALOG_OPEN_FAILED: { http: 500, retryable: false, meaning: 'the catalog file cannot be opened' },
  CATALOG_TOO_NEW: { http: 500, retryable: false, meaning: 'the catalog was written by a newer custody' },
  DEMO_INIT_FAILED: { http: 500, retryable: false, meaning: 'the demo could not initialise its station' },
  DEMO_TIMEOUT: { http: 500, retryable: false, meaning: 'the demo waited too long for the daemon' },
  KEY_UNREADABLE: { http: 500, retryable: false, meaning: 'the station key cannot be read' },
  NOTHING_TO_REBUILD: { http: 500, retryable: false, meaning: 'no catalog and no ledger segments in the vault: nothing to rebuild from' },
  SNAPSHOT_FAILED: { http: 500, retryable: true, meaning: 'a catalog snapshot could not be made or stored (nothing was ledgered)' },
  RESTORE_HOME_NOT_EMPTY: { http: 500, retryable: false, meaning: 'custody restore into a home that already holds a catalog (a restore never overwrites one)' },
  RESTORE_VAULT_BROKEN: { http: 500, retryable: false, meaning: 'the vault\'s sealed ledger segments are not one unbroken chain, or hold no ledger: nothing was restored' },
  RESTORE_KEY_MISMATCH: { http: 500, retryable: false, meaning: 'the key given to custody restore is not the station key the ledger names' },
  VAULT_NOT_INTACT: { http: 500, retryable: false, meaning: 'init refused: the existing vault\'s ledger does not verify' },

  // --- the vault ---
  VAULT_OBJECT_MISSING: { http: 500, retryable: false, meaning: 'a stored object cannot be found', public: 'the stored object for this item cannot be found; the vault needs verification' },
  VAULT_OBJECT_CORRUPT: { http: 500, retryable: false, meaning: 'what was stored is not what was sent, or a stored object no longer matches its record', public: 'the stored object for this item is damaged (its size or hash is wrong); it was not served, and the vault needs verification' },
  VAULT_OBJECT_EXISTS: { http: 500, retryable: false, meaning: 'an object already exists under that key with other content' },
  VAULT_READ_FAILED: { http: 503, retryable: true, meaning: 'the vault could not be read this time', public: 'the vault cannot be read right now; try again' },
  VAULT_UNAVAILABLE: { http: 503, retryable: true, meaning: 'the vault (its folder or object store) is unavailable', public: 'the vault is unavailable right now; try again' },
  VAULT_WRITE_FAILED: { http: 503, retryable: true, meaning: 'the vault could not be written this time', public: 'the vault cannot be written right now; try again' },
  VAULT_FULL: { http: 503, retryable: true, meaning: 'the vault\'s disk or bucket has no room: intake pauses, nothing is dropped', public: 'the vault is full' },
  VAULT_ACCESS_DENIED: { http: 500, retryable: false, meaning: 'the object store refused access (key, secret or bucket policy)' },
  VAULT_BUCKET_MISSING: { http: 500, retryable: false, meaning: 'the configured bucket does not exist' },
  VAULT_BAD_KEY: { http: 500, retryable: false, meaning: 'an object key or key prefix is not acceptable' },
  VAULT_BAD_RANGE: { http: 500, retryable: false, meaning: 'a byte range that is not one' },
  VAULT_MISCONFIGURED: { http: 500, retryable: false, meaning: 'the object store settings cannot work (part size, endpoint)' },
  VAULT_UNSUPPORTED: { http: 500, retryable: false, meaning: 'the object store profile lacks a feature custody was asked to use (Object Lock)' },

  // --- the ledger ---
  LEDGER_BAD_CONFIG: { http: 500, retryable: false, meaning: 'a ledger setting is out of range' },
  LEDGER_BAD_DATA: { http: 500, retryable: false, meaning: 'a ledger entry\'s data is not a JSON object' },
  LEDGER_BAD_LINE: { http: 500, retryable: false, meaning: 'a line of a ledger segment or export is not a ledger entry' },
  LEDGER_BAD_RANGE: { http: 500, retryable: false, meaning: 'a ledger range (from, to) that is not one' },
  LEDGER_BAD_TYPE: { http: 500, retryable: false, meaning: 'a ledger entry type that is not well-formed' },
  LEDGER_CHAIN_BROKEN: { http: 500, retryable: false, meaning: 'the ledger\'s hash chain does not hold (an entry missing, edited or out of order)' },
  LEDGER_ENTRY_INVALID: { http: 500, retryable: false, meaning: 'a ledger entry of an unregistered type, or whose data does not have its type\'s shape: refused before it is hashed' },
  LEDGER_INCONSISTENT: { http: 500, retryable: false, meaning: 'the ledger does not extend a signed checkpoint: history was rewritten or entries removed' },
  LEDGER_NOT_JSON: { http: 500, retryable: false, meaning: 'a value that has no JSON form in a ledger entry' },
  LEDGER_REBUILD_CONFLICT: { http: 500, retryable: false, meaning: 'the catalog ledger disagrees with the sealed segments; refusing to rebuild into it' },
  LEDGER_SEGMENT_CONFLICT: { http: 500, retryable: false, meaning: 'a sealed segment in the vault disagrees with the catalog' },
  LEDGER_SEGMENT_LINE_TOO_LONG: { http: 500, retryable: false, meaning: 'a line in a ledger segment is longer than any entry can be' },
  LEDGER_TREE_STATE: { http: 500, retryable: false, meaning: 'the Merkle tree state does not match the ledger' },
  LEDGER_UNREADABLE: { http: 500, retryable: false, meaning: 'the ledger cannot be read entry by entry' },

  // --- proofs and checkpoints ---
  PROOF_BAD_ARGUMENT: { http: 500, retryable: false, meaning: 'a proof was asked for entries or sizes that cannot have one' },
  PROOF_BAD_INDEX: { http: 500, retryable: false, meaning: 'a leaf index outside the tree' },
  PROOF_INTERNAL: { http: 500, retryable: false, meaning: 'an impossible state of the Merkle tree code' },
  PROOF_MALFORMED: { http: 500, retryable: false, meaning: 'a proof that is not well-formed' },
  PROOF_ROOT_MISMATCH: { http: 500, retryable: false, meaning: 'a proof that does not lead to the expected root hash' },
  PROOF_TREE_FULL: { http: 500, retryable: false, meaning: 'the Merkle tree cannot grow further' },
  PROOF_UNSIGNED: { http: 500, retryable: false, meaning: 'a proof to a root no checkpoint was signed at' },
  PROOF_WRONG_LENGTH: { http: 500, retryable: false, meaning: 'a proof of the wrong length for its tree' },
  NOTE_BAD_KEY: { http: 500, retryable: false, meaning: 'a signed-note key that is not an Ed25519 key' },
  NOTE_BAD_KEY_NAME: { http: 500, retryable: false, meaning: 'a signed-note key name that is empty or holds spaces or "+"' },
  NOTE_BAD_SIGNATURE: { http: 500, retryable: false, meaning: 'a signed note whose signature does not verify: altered or forged' },
  NOTE_MALFORMED: { http: 500, retryable: false, meaning: 'a signed note that is not well-formed' },
  NOTE_NO_SIGNER: { http: 500, retryable: false, meaning: 'a signed note without a signature' },
  NOTE_UNKNOWN_KEY: { http: 500, retryable: false, meaning: 'a note not signed by the expected key' },
  CHECKPOINT_CONFLICT: { http: 500, retryable: false, meaning: 'the vault already holds a different checkpoint for that size: refusing to sign a second history' },
  CHECKPOINT_EMPTY: { http: 500, retryable: false, meaning: 'the ledger is empty: there is nothing to sign' },
  CHECKPOINT_INVALID: { http: 500, retryable: false, meaning: 'a stored checkpoint does not verify with the station key' },
  CHECKPOINT_KEY_NAME: { http: 500, retryable: false, meaning: 'the signing key\'s name is not the checkpoint\'s origin' },
  CHECKPOINT_MALFORMED: { http: 500, retryable: false, meaning: 'a checkpoint that is not well-formed' },
  CHECKPOINT_NO_KEY: { http: 500, retryable: false, meaning: 'the station key for signing checkpoints cannot be read' },
  CHECKPOINT_ORIGIN_CHANGED: { http: 500, retryable: false, meaning: 'checkpoints.origin differs from the origin of the vault\'s checkpoints' },
  CHECKPOINT_STATE_INVALID: { http: 500, retryable: false, meaning: 'the stored tree state is unreadable' },
  CHECKPOINT_TOO_LARGE: { http: 500, retryable: false, meaning: 'a stored checkpoint is larger than any can be' },
  CHECKPOINT_WITNESS_AHEAD: { http: 500, retryable: false, meaning: 'a witness holds a checkpoint larger than the ledger: entries were removed' },
  CHECKPOINT_WITNESS_CONFLICT: { http: 500, retryable: false, meaning: 'a witness holds a different checkpoint for the same size' },
  CHECKPOINT_WITNESS_INVALID: { http: 500, retryable: false, meaning: 'a witness holds something that is not a valid checkpoint' },
  CHECKPOINT_WITNESS_UNREACHABLE: { http: 500, retryable: true, meaning: 'a witness folder cannot be reached' },
  CHECKPOINT_WRONG_ORIGIN: { http: 500, retryable: false, meaning: 'a checkpoint for another log\'s origin' },

  // --- recorders and ingest ---
  RECORDER_BAD_PATH: { http: 500, retryable: false, meaning: 'a path that is not on the recorder' },
  RECORDER_NOT_A_FILE: { http: 500, retryable: false, meaning: 'a recorder entry that is not a regular file' },
  RECORDER_STATUS_INVALID: { http: 500, retryable: false, meaning: 'the recorder\'s status file is not valid' },
  RECORDER_STATUS_UNREADABLE: { http: 500, retryable: false, meaning: 'the recorder\'s status file cannot be read' },
  RECORDER_UNIDENTIFIED: { http: 500, retryable: false, meaning: 'the recorder cannot be identified, and identity is never invented' },
  RECORDER_UNREADABLE: { http: 500, retryable: true, meaning: 'the recorder\'s storage cannot be listed or read this time' },
  SOURCE_CHANGED: { http: 500, retryable: true, meaning: 'a recorder file changed while it was copied; nothing recorded' },
  SOURCE_EMPTY: { http: 500, retryable: true, meaning: 'a recorder file is empty' },
  SOURCE_STILL_WRITING: { http: 500, retryable: true, meaning: 'a recorder file was modified moments ago and may still be written' },
  SOURCE_GONE: { http: 500, retryable: true, meaning: 'a recorder file (or the recorder) went away while it was read' },
  SOURCE_UNREADABLE: { http: 500, retryable: true, meaning: 'a recorder file cannot be read (permission)' },
  SOURCE_IO_ERROR: { http: 500, retryable: true, meaning: 'an I/O error reading a recorder file' },
  SOURCE_IS_SYMLINK: { http: 500, retryable: true, meaning: 'a recorder file became a symlink; symlinks are never followed' },
  SOURCE_READ_FAILED: { http: 500, retryable: true, meaning: 'a recorder file could not be read this time' },
  RECORDER_GONE: { http: 500, retryable: true, meaning: 'the recorder disappeared during its dock; the rest is ingested at the next dock' },
  SHUTDOWN: { http: 500, retryable: true, meaning: 'custody is stopping; the rest is ingested at the next run' },
  INGEST_FAILED: { http: 500, retryable: true, meaning: 'a file failed to ingest for a reason without a code of its own; retried at the next run' },
  SESSION_FAILED: { http: 500, retryable: true, meaning: 'a dock session failed for a reason without a code of its own' },
  WIPE_FAILED: { http: 500, retryable: true, meaning: 'a file was ingested but could not be wiped from the recorder' },
  WIPE_SOURCE_MISMATCH: { http: 500, retryable: false, meaning: 'a recorder file no longer hashes as its vault copy; not wiped' },
  DRIVER_DUPLICATE: { http: 500, retryable: false, meaning: 'two recorder drivers of the same name' },
  DRIVER_UNKNOWN: { http: 500, retryable: false, meaning: 'a profile names a driver that is not available' },
  GAT947_STALL: { http: 500, retryable: true, meaning: 'GA/T 947.4: the USB endpoint stalled' },
  GAT947_SHORT_TRANSFER: { http: 500, retryable: true, meaning: 'GA/T 947.4: fewer bytes moved than the command needed' },
  GAT947_CSW_TAG: { http: 500, retryable: false, meaning: 'GA/T 947.4: the command status answers another command' },
  GAT947_CSW_INVALID: { http: 500, retryable: false, meaning: 'GA/T 947.4: the command status wrapper is not one' },
  GAT947_COMMAND_FAILED: { http: 500, retryable: false, meaning: 'GA/T 947.4: the device reported the command failed' },
  GAT947_PHASE_ERROR: { http: 500, retryable: true, meaning: 'GA/T 947.4: the device lost track of the exchange; it was reset' },
  GAT947_TIMEOUT: { http: 500, retryable: true, meaning: 'GA/T 947.4: no answer in time' },
  GAT947_DEVICE_GONE: { http: 500, retryable: false, meaning: 'GA/T 947.4: the recorder went away mid-command' },
  GAT947_ACCESS_DENIED: { http: 500, retryable: false, meaning: 'GA/T 947.4: the operating system refused access to the USB device (udev rules)' },
  GAT947_BUSY: { http: 500, retryable: true, meaning: 'GA/T 947.4: another driver or program holds the interface' },
  GAT947_NO_INTERFACE: { http: 500, retryable: false, meaning: 'GA/T 947.4: the device has no interface with bulk endpoints' },
  GAT947_PASSWORD_WRONG: { http: 500, retryable: false, meaning: 'GA/T 947.4: the recorder refused the device password' },
  GAT947_PASSWORD_UNAVAILABLE: { http: 500, retryable: false, meaning: 'GA/T 947.4: the profile\'s password secret cannot be read' },
  GAT947_CALL_FAILED: { http: 500, retryable: false, meaning: 'GA/T 947.4: the recorder answered a call with failure' },
  GAT947_BAD_REPLY: { http: 500, retryable: false, meaning: 'GA/T 947.4: an answer that is not what the call returns' },
  GAT947_NOT_SUPPORTED: { http: 500, retryable: false, meaning: 'GA/T 947.4: the profile has no command number for this call' },
  GAT947_CONNECT_FAILED: { http: 500, retryable: true, meaning: 'GA/T 947.4: the link cannot be opened' },
  GAT947_LINK_CLOSED: { http: 500, retryable: false, meaning: 'GA/T 947.4: the link is closed or in an unknown state after a fault' },

  // --- media ---
  MEDIA_PROBE_FAILED: { http: 500, retryable: false, meaning: 'ffprobe could not read the file: truncated, corrupt, hostile or not media' },
  MEDIA_THUMBNAIL_FAILED: { http: 500, retryable: false, meaning: 'no picture could be made from the file' },
  MEDIA_TRANSCODE_FAILED: { http: 500, retryable: false, meaning: 'ffmpeg could not make a browser-playable proxy of the file' },
  MEDIA_GENERATE_FAILED: { http: 500, retryable: false, meaning: 'ffmpeg could not write a generated sample' },
  MEDIA_TIMEOUT: { http: 500, retryable: true, meaning: 'ffmpeg or ffprobe ran past its time limit and was killed' },
  MEDIA_ABORTED: { http: 500, retryable: true, meaning: 'the caller aborted; the child process was killed' },
  MEDIA_BINARY_NOT_FOUND: { http: 500, retryable: false, meaning: 'no usable ffmpeg or ffprobe binary' },

  // --- jobs ---
  JOBS_ABANDONED: { http: 500, retryable: true, meaning: 'the runner stopped without waiting for a handler that ignored its abort signal' },
  JOBS_ALREADY_STARTED: { http: 500, retryable: false, meaning: 'a job runner starts once' },
  JOBS_DUPLICATE_HANDLER: { http: 500, retryable: false, meaning: 'two handlers for one job name' },
  JOBS_ENQUEUE_FAILED: { http: 500, retryable: false, meaning: 'the queue did not accept the job' },
  JOBS_HANDLER_MISSING: { http: 500, retryable: false, meaning: 'a job of the job table has no handler: the runner refuses to start' },
  JOBS_INVALID_DELAY: { http: 500, retryable: false, meaning: 'a job delay that is not a number of milliseconds >= 0' },
  JOBS_INVALID_KEY: { http: 500, retryable: false, meaning: 'a job key that is empty or too long' },
  JOBS_INVALID_NAME: { http: 500, retryable: false, meaning: 'a job name that is not well-formed' },
  JOBS_INVALID_OPTION: { http: 500, retryable: false, meaning: 'a job runner option out of range' },
  JOBS_PAYLOAD_CORRUPT: { http: 500, retryable: false, meaning: 'a stored job payload is not JSON' },
  JOBS_PAYLOAD_INVALID: { http: 500, retryable: false, meaning: 'a job payload that does not have its job\'s shape' },
  JOBS_PAYLOAD_NOT_JSON: { http: 500, retryable: false, meaning: 'a job payload that has no JSON form' },
  JOBS_REDIS_UNREACHABLE: { http: 500, retryable: true, meaning: 'Redis cannot be reached' },
  JOBS_RUNNER_STOPPED: { http: 500, retryable: false, meaning: 'the job runner has been stopped' },
  JOBS_STOPPING: { http: 500, retryable: true, meaning: 'the job runner is stopping' },
  JOBS_UNKNOWN_NAME: { http: 500, retryable: false, meaning: 'no handler is registered for the job' },

  // --- retention ---
  PURGE_LEDGER_INVALID: { http: 500, retryable: false, meaning: 'purge refused: the vault does not verify' },
  PURGE_CLOCK_JUMP: { http: 500, retryable: false, meaning: 'purge refused: the clock jumped since the last run' },
  PURGE_TOO_MUCH: { http: 500, retryable: false, meaning: 'purge refused: more than retention.maxPurgeFraction would go at once' },
  PURGE_DELETE_FAILED: { http: 500, retryable: true, meaning: 'an announced purge could not be finished; the next run retries it' },

  // --- archival export ---
  EXPORT_DISK_FULL: { http: 500, retryable: true, meaning: 'an export destination is full' },
  EXPORT_ISO_FAILED: { http: 500, retryable: false, meaning: 'xorriso failed to make an ISO image' },
  EXPORT_SOURCE_CORRUPT: { http: 500, retryable: false, meaning: 'a vault object read for an export does not hash as recorded' },
  EXPORT_SOURCE_MISSING: { http: 500, retryable: false, meaning: 'a vault object for an export is missing or of the wrong size' },
  EXPORT_UNRECORDED: { http: 500, retryable: false, meaning: 'an item to export has no evidence.ingested entry in the ledger' },
  EXPORT_WRITE_FAILED: { http: 500, retryable: false, meaning: 'an export copy cannot be written' },
  EXPORT_INTERRUPTED: { http: 500, retryable: true, meaning: 'an export job the station stopped in (shown on the job; nothing of it is recorded as a copy)' },
  EXPORT_COPY_FAILED: { http: 500, retryable: true, meaning: 'an export job ended with a copy not written or not verified (shown on the job; each copy says why)' },
  EXPORT_FAILED: { http: 500, retryable: true, meaning: 'an export job stopped on a system error (shown on the job; details in the log)' },
} as const satisfies Record<string, ErrorSpec>;

/** A code custody may throw: a key of the registry. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The registry's entry for a code. Only a cast can bring an unknown code here (the
 * type forbids it); it is answered as INTERNAL rather than crashing an error's
 * construction.
 */
export function errorSpec(code: ErrorCode): ErrorSpec {
  return isErrorCode(code) ? ERROR_CODES[code] : ERROR_CODES.INTERNAL;
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}
