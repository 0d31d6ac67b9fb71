import { computed, reactive, ref } from 'vue';
import { api, data } from '../api/client';
import type { DockRecord, LiveDock, ProgressEvent, ReasonDetail, UndockEvent } from '../api/types';
import { subscribe } from './stream';

/** How long a recorder stays on the board after its dock ended. */
export const RECENT_MS = 15 * 60_000;

export type DockState = 'ready' | 'not-ready' | 'unchecked' | null;

export interface DockCard {
  dockId: string;
  serial: string | null;
  location: string;
  dockedAt: string;
  state: DockState;
  /** Why not ready: code, sentence and figures (a code null: only the sentence is known). */
  reasons: ReasonDetail[];
  progress: ProgressEvent | null;
  /** Who it is issued to, and what the check read: from the dock event (or GET /devices/{serial} when the event lacks them). */
  officer: string | null;
  unit: string | null;
  batteryPercent: number | null;
  storageFreeBytes: number | null;
  clockDriftMs: number | null;
  /** Set while collection waits for the vault (VAULT_UNAVAILABLE, or VAULT_FULL until it has room): it resumes by itself, nothing is wiped meanwhile. */
  paused: { code: string; message: string; since: string } | null;
  /** Files vaulted so far (event: ingested). */
  ingested: number;
  /** Set when the dock's session ended (event: undock). */
  result: { status: string; ingested: number; failed: number; bytes: number; endedAt: number; pulled: boolean; undockReason: string | null } | null;
}

/** Live dock state: one store, fed by the event stream; pages read it and never poll. */
export const docks = reactive(new Map<string, DockCard>());
/** 'live' while the page's stream is open; 'connecting' before and while it reconnects; 'closed' when refused. */
export { connection } from './stream';
export const loadError = ref<unknown>(null);

export const board = computed(() =>
  [...docks.values()].sort((a, b) => {
    // Docked ones first, then the recently ended; each newest first.
    if ((a.result === null) !== (b.result === null)) return a.result === null ? -1 : 1;
    return b.dockedAt.localeCompare(a.dockedAt);
  }),
);

function stateOf(d: { verdict: 'ready' | 'not-ready' | null; state?: DockState | undefined }): DockState {
  return d.state ?? d.verdict;
}

/** The reasons as codes and figures; from the sentences (code null) when a dock came without them. */
function reasonsOf(d: { reasons: string[]; reasonDetails?: ReasonDetail[] | undefined }): ReasonDetail[] {
  return d.reasonDetails ?? d.reasons.map((message) => ({ code: null, message, params: {} }));
}

/** Whether a live dock (event or GET /docks) says who the recorder is issued to and what its check read (issue 15); if not, GET /devices/{serial} does. */
const hasFacts = (d: Partial<LiveDock>): boolean => d.batteryPercent !== undefined && d.officer !== undefined;

function card(d: LiveDock): DockCard {
  const cur = docks.get(d.dockId);
  const facts = hasFacts(d);
  return {
    dockId: d.dockId,
    serial: d.serial,
    location: d.location,
    dockedAt: d.dockedAt,
    state: stateOf(d),
    reasons: reasonsOf(d),
    progress: cur?.progress ?? (d.progress ? { dockId: d.dockId, serial: d.serial, ...d.progress } : null),
    officer: facts ? d.officer : (cur?.officer ?? null),
    unit: facts ? d.unit : (cur?.unit ?? null),
    batteryPercent: facts ? d.batteryPercent : (cur?.batteryPercent ?? null),
    storageFreeBytes: facts ? d.storageFreeBytes : (cur?.storageFreeBytes ?? null),
    clockDriftMs: facts ? d.clockDriftMs : (cur?.clockDriftMs ?? null),
    paused: d.paused ?? null,
    ingested: cur?.ingested ?? 0,
    result: cur?.result ?? null,
  };
}

function fromRecord(serial: string, officer: string | null, unit: string | null, d: DockRecord): DockCard {
  return {
    dockId: d.id,
    serial,
    location: d.location,
    dockedAt: d.dockedAt,
    state: d.healthState ?? d.verdict,
    reasons: reasonsOf(d),
    progress: null,
    officer,
    unit,
    batteryPercent: d.batteryPercent,
    storageFreeBytes: d.storageFreeBytes,
    clockDriftMs: d.clockDriftMs,
    paused: null,
    ingested: d.filesIngested,
    // Ended: undocked, or its session over while the recorder is still in the dock (then
    // it counts from now, as if the page had seen it end).
    result:
      d.undockedAt || d.sessionStatus
        ? { status: d.sessionStatus ?? 'not-run', ingested: d.filesIngested, failed: d.filesFailed, bytes: d.bytesIngested, endedAt: d.undockedAt ? Date.parse(d.undockedAt) : Date.now(), pulled: d.pulled, undockReason: d.undockReason }
        : null,
  };
}

/** What the recorder's record says about this dock: officer, unit, battery, storage, drift. */
async function fillFromDevice(dockId: string, serial: string | null): Promise<void> {
  if (serial === null) return;
  try {
    const r = await data(api.GET('/api/v1/devices/{id}', { params: { path: { id: serial }, query: { limit: 5 } } }));
    const c = docks.get(dockId);
    if (!c) return;
    c.officer = r.device.officer;
    c.unit = r.device.unit;
    const d = r.docks.find((x) => x.id === dockId);
    if (d) {
      c.batteryPercent = d.batteryPercent;
      c.storageFreeBytes = d.storageFreeBytes;
      c.clockDriftMs = d.clockDriftMs;
      if (c.result) {
        c.result.pulled = d.pulled;
        c.result.undockReason = d.undockReason;
      }
    }
  } catch {
    // The card shows what the stream said; the rest reads "—".
  }
}

/** Live docks, and the recorders whose dock ended within RECENT_MS (after a reload too). */
async function resync(): Promise<void> {
  try {
    const live = await data(api.GET('/api/v1/docks'));
    const recent = await data(api.GET('/api/v1/devices', { params: { query: { limit: 500 } } }));
    loadError.value = null;
    const liveIds = new Set(live.items.map((d) => d.dockId));
    for (const d of live.items) {
      const known = docks.has(d.dockId);
      docks.set(d.dockId, card(d));
      if (!known && !hasFacts(d)) void fillFromDevice(d.dockId, d.serial);
    }
    for (const dev of recent.items) {
      const d = dev.lastDock;
      if (!d || liveIds.has(d.id) || docks.has(d.id)) continue;
      const c = fromRecord(dev.serial, dev.officer, dev.unit, d);
      if (c.result && Date.now() - c.result.endedAt < RECENT_MS) docks.set(d.id, c);
    }
    // A dock this page thought live that ended while the stream was down.
    for (const c of docks.values()) if (c.result === null && !liveIds.has(c.dockId)) void endFromRecord(c);
  } catch (e) {
    loadError.value = e;
  }
}

async function endFromRecord(c: DockCard): Promise<void> {
  c.result = { status: 'not-run', ingested: c.ingested, failed: 0, bytes: c.progress?.bytesDone ?? 0, endedAt: Date.now(), pulled: false, undockReason: null };
  await fillFromDevice(c.dockId, c.serial);
}

const handlers: Record<string, (d: unknown) => void> = {
  dock(raw) {
    const d = raw as LiveDock;
    const known = docks.has(d.dockId);
    docks.set(d.dockId, card({ ...d, progress: null }));
    // The event says who and what the check read; only an event without them needs the record.
    if (!known && !hasFacts(d)) void fillFromDevice(d.dockId, d.serial);
  },
  progress(raw) {
    const p = raw as ProgressEvent;
    const c = docks.get(p.dockId);
    if (c) c.progress = p;
  },
  ingested(raw) {
    const e = raw as { dockId: string };
    const c = docks.get(e.dockId);
    if (c) c.ingested++;
  },
  undock(raw) {
    const u = raw as UndockEvent;
    const c = docks.get(u.dockId);
    if (!c) return;
    c.result = { status: u.status, ingested: u.ingested, failed: u.failed, bytes: u.bytes, endedAt: Date.now(), pulled: false, undockReason: null };
    void fillFromDevice(u.dockId, u.serial);
  },
};

let live: ReturnType<typeof subscribe> | null = null;
let users = 0;
let sweeper: ReturnType<typeof setInterval> | undefined;

/** The board's pages call start() when shown and stop() when left; they share the page's one stream. */
export function start(): void {
  users++;
  if (users > 1) return;
  // Only what happens after connecting is sent: the state before comes from GET, on each (re)connection.
  live = subscribe(Object.keys(handlers), (type, d) => handlers[type]?.(d), () => void resync());
  sweeper = setInterval(() => {
    const now = Date.now();
    for (const [id, c] of docks) if (c.result && now - c.result.endedAt > RECENT_MS) docks.delete(id);
  }, 30_000);
}

export function stop(): void {
  users = Math.max(0, users - 1);
  if (users > 0) return;
  live?.close();
  live = null;
  clearInterval(sweeper);
}
