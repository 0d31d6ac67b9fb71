import type { paths } from './schema.js';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Ok<P extends keyof paths, M extends 'get' | 'post'> = paths[P][M] extends { responses: { 200: infer R } } ? Json<R> : never;

/** The types the pages use, named once, all taken from the generated schema. */
export type EvidenceSummary = Ok<'/api/v1/evidence', 'get'>['items'][number];
export type EvidenceDetail = Ok<'/api/v1/evidence/{id}', 'get'>;
export type EvidenceQuery = NonNullable<paths['/api/v1/evidence']['get']['parameters']['query']>;
export type LiveDock = Ok<'/api/v1/docks', 'get'>['items'][number];
/** One pre-duty reason: stable code (null for a dock recorded before codes were kept), the daemon's sentence, its figures. */
export type ReasonDetail = LiveDock['reasonDetails'][number];
export type Device = Ok<'/api/v1/devices/{id}', 'get'>['device'];
export type DockRecord = Ok<'/api/v1/devices/{id}', 'get'>['docks'][number];
export type AccessRequest = Ok<'/api/v1/access-requests', 'get'>['items'][number];
export type LedgerEntry = EvidenceDetail['ledger'][number];

/** Progress of a session as the event stream sends it (`event: progress`). */
export interface ProgressEvent {
  dockId: string;
  serial: string | null;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  rate: number;
  etaSeconds: number | null;
}

/** `event: undock`: the dock ended; `status` is the session's (complete, failed, recorder-gone …). */
export interface UndockEvent {
  dockId: string;
  serial: string | null;
  status: string;
  ingested: number;
  failed: number;
  bytes: number;
}

/** How an item plays in the browser: the original, or its proxy once made (issue 15). */
export type Playback = EvidenceDetail['playback'];

/** The signed-in user, as GET/POST /api/v1/session answer. */
export type SessionBody = Ok<'/api/v1/session', 'get'>;
export type SessionUser = SessionBody['user'];
