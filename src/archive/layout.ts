/**
 * Where custody puts its own tag files in an export bag (docs/archive.md). They are
 * tag files (outside data/), so the tag manifest covers them; a plain BagIt tool sees
 * an ordinary bag with extra tag files.
 */
export const EXPORT_FORMAT = 'custody-export/v1';
export const PROOFS_FORMAT = 'custody-export-proofs/v1';

export const TAG = {
  /** Export metadata: export id, case, copy n of m, maker, items (path ↔ evidence ↔ ledger seq). */
  export: 'custody/export.json',
  /** The ledger entries of the items and of the case, each its canonical line + "\n" (as hashed). */
  ledger: 'custody/ledger.jsonl',
  /** The latest signed checkpoint (C2SP signed note) covering every entry above. */
  checkpoint: 'custody/checkpoint.txt',
  /** The station's checkpoint verifier key (name+keyid+base64), as printed by `custody ledger checkpoint --verifier-key`. */
  verifierKey: 'custody/verifier-key.txt',
  /** RFC 9162 inclusion proofs of every entry of ledger.jsonl in the checkpoint's tree. */
  proofs: 'custody/proofs.json',
  /** Human-readable index of every item with its hash. */
  index: 'index.html',
  /** Printable disc label. */
  label: 'label.html',
  /** Plain-text note: what this is and how to check it, for whoever finds the disc. */
  readme: 'README.txt',
} as const;

export interface ExportItem {
  /** Path in the bag (`data/…`). */
  path: string;
  evidenceId: string;
  sha256: string;
  size: number;
  mediaType: string;
  officer: string | null;
  recorder: string;
  recordedStart: string;
  sourceName: string;
  /** seq of the item's evidence.ingested entry. */
  ingestSeq: number;
}

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  exportId: string;
  createdAt: string;
  /** held: the case was protected by an unreleased hold when exported. */
  case: { id: string; number: string; name: string; unit: string | null; held: boolean };
  /** Source-Organization: the making unit. */
  organization: string;
  maker: string;
  copy: number;
  copies: number;
  items: ExportItem[];
}

export interface ExportProofs {
  format: typeof PROOFS_FORMAT;
  treeSize: number;
  /** Base64 root hash, as in the checkpoint. */
  rootHash: string;
  /** seq → inclusion path (base64 hashes, from the leaf's sibling upwards). */
  proofs: Record<string, string[]>;
}
