import { EventEmitter } from 'node:events';

/** A recorder docked and its session is running (or about to). */
export interface DockInfo {
  dockId: string;
  sessionId: string | null;
  serial: string | null;
  location: string;
  dockedAt: string;
  verdict: 'ready' | 'not-ready' | null;
  /** 就绪 / 未就绪 / 未检测: the three-state verdict; `verdict` is what it counts as. */
  state?: 'ready' | 'not-ready' | 'unchecked' | null;
  /** Why not ready, one sentence each, as the daemon logs them. */
  reasons: string[];
  /**
   * The same reasons as code, sentence and figures (issue 15: the pre-duty check's
   * HealthReason), in the same order; what a reader decides or translates by. Absent:
   * readers take the sentences, with code null.
   */
  reasonDetails?: DockReasonDetail[];
  /** Who the recorder is issued to, as registered after this dock (absent: not known to this publisher). */
  officer?: string | null;
  unit?: string | null;
  /** What the pre-duty check read (null: not read). */
  batteryPercent?: number | null;
  storageFreeBytes?: number | null;
  /** Positive: the recorder's clock ahead of the station's; read before any clock sync. */
  clockDriftMs?: number | null;
  /** Set while the dock's collection is paused (the vault unavailable): it resumes by itself when the cause is gone. */
  paused?: DockPause | null;
}

/** Why a dock's collection is paused, and since when; the files stay on the recorder meanwhile. */
export interface DockPause {
  /** The error code that paused it (VAULT_UNAVAILABLE). */
  code: string;
  message: string;
  since: string;
}

/** One reason a dock is not ready: a stable code (null when only the sentence is known), the sentence and its figures. */
export interface DockReasonDetail {
  code: string | null;
  message: string;
  params: Record<string, string | number | boolean | null>;
}

export interface DockProgress {
  dockId: string;
  serial: string | null;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  rate: number;
  etaSeconds: number | null;
}

export type ActivityEvent =
  | { type: 'dock'; dock: DockInfo }
  | { type: 'progress'; progress: DockProgress }
  | { type: 'ingested'; dockId: string; serial: string; evidenceId: string; sha256: string; size: number; path: string }
  | { type: 'undock'; dockId: string; serial: string | null; status: string; ingested: number; failed: number; bytes: number }
  | { type: 'flag'; flag: Record<string, unknown> }
  /** An export job started, moved on or ended (issue 19): the job as GET /exports/{id} gives it; `unit` is its case's. */
  | { type: 'export'; unit: string | null; job: Record<string, unknown> }
  /** The station's verification (the console's 立即校验) started, moved on or ended: its status as GET /ledger/verify gives it. */
  | { type: 'verify'; status: Record<string, unknown> };

/**
 * What is happening now, in this process: docks in progress and their events. The
 * daemon publishes; the HTTP API (GET /docks, GET /events) and metrics read. It
 * keeps only live state; history is in the catalog and the ledger.
 */
export class ActivityBus {
  private readonly emitter = new EventEmitter();
  private readonly live = new Map<string, { dock: DockInfo; progress: DockProgress | null }>();

  constructor() {
    // Many SSE clients may listen at once.
    this.emitter.setMaxListeners(0);
  }

  publish(event: ActivityEvent): void {
    switch (event.type) {
      case 'dock':
        this.live.set(event.dock.dockId, { dock: event.dock, progress: null });
        break;
      case 'progress': {
        const cur = this.live.get(event.progress.dockId);
        if (cur) cur.progress = event.progress;
        break;
      }
      case 'undock':
        this.live.delete(event.dockId);
        break;
      default:
        break;
    }
    this.emitter.emit('event', event);
  }

  /** Docks in progress with their latest progress. */
  docks(): Array<{ dock: DockInfo; progress: DockProgress | null }> {
    return [...this.live.values()].map((v) => ({ dock: { ...v.dock }, progress: v.progress ? { ...v.progress } : null }));
  }

  subscribe(listener: (event: ActivityEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
