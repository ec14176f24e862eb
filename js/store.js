// Where downloaded artifacts live: IndexedDB, or memory when IndexedDB is missing, blocked or full.
// Both stores have the same interface, so the loader and the tests treat them alike. The database
// is opened, and its schema created or upgraded, by the wasm core (`HistoryStore.openIndexedDb`,
// src/wasm/idb.rs), which also owns the visitor's history (`store.history`).
//
// Object stores used here:
//   files    key = SHA-256 hex of the bytes  -> { sha256, name, bytes: ArrayBuffer }
//            Content-addressed: a file shared by two versions is stored and downloaded once.
//   versions key = manifest URL              -> { manifestUrl, manifest, files: { role: sha256 }, storedAt }
//            The version a page starts from. It is switched in the same transaction that writes the
//            new files and drops the files no version references, so the cache never points at a
//            half-written or unverified version.

import { HistoryStore } from './localrec.js';

const FILES = 'files', VERSIONS = 'versions';

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
  });
}

/** Opens (or creates) the IndexedDB store. Rejects if IndexedDB is missing, blocked or refuses. */
export async function openIndexedDbStore(name = 'localrec', { timeoutMs = 5000 } = {}) {
  const history = await HistoryStore.openIndexedDb(name, timeoutMs);
  return new IndexedDbStore(history.database, name, history);
}

export class IndexedDbStore {
  constructor(db, name, history) { this.db = db; this.name = name; this.kind = 'indexeddb'; this.history = history; }

  async getVersion(manifestUrl) {
    const tx = this.db.transaction(VERSIONS, 'readonly');
    return (await request(tx.objectStore(VERSIONS).get(manifestUrl))) ?? null;
  }

  /** Several files in one transaction (null for each one missing). */
  async getFiles(shas) {
    const tx = this.db.transaction(FILES, 'readonly');
    const store = tx.objectStore(FILES);
    const recs = await Promise.all(shas.map((sha) => request(store.get(sha))));
    return recs.map((rec) => (rec ? new Uint8Array(rec.bytes) : null));
  }

  async deleteFile(sha256) {
    const tx = this.db.transaction(FILES, 'readwrite');
    tx.objectStore(FILES).delete(sha256);
    await done(tx);
  }

  /**
   * Atomically: writes `files` (sha256 -> {name, bytes}), points `version.manifestUrl` at `version`,
   * and deletes every stored file that no version references any more. All or nothing.
   */
  async commitVersion(version, files) {
    const tx = this.db.transaction([FILES, VERSIONS], 'readwrite');
    const fstore = tx.objectStore(FILES), vstore = tx.objectStore(VERSIONS);
    for (const [sha256, f] of files) {
      const bytes = f.bytes.byteOffset === 0 && f.bytes.byteLength === f.bytes.buffer.byteLength
        ? f.bytes.buffer : f.bytes.slice().buffer;
      fstore.put({ sha256, name: f.name, bytes });
    }
    vstore.put(version);
    const all = request(vstore.getAll());
    const keys = request(fstore.getAllKeys());
    const [versions, stored] = await Promise.all([all, keys]);
    const live = new Set(versions.flatMap((v) => Object.values(v.files)));
    for (const sha of stored) if (!live.has(sha)) fstore.delete(sha);
    await done(tx);
  }

  close() { this.history.close(); }
}

/** The same interface in memory: the fallback when IndexedDB is unusable, and a test double. */
export class MemoryStore {
  constructor() { this.kind = 'memory'; this.files = new Map(); this.versions = new Map(); this._history = null; }
  /** The visitors' histories of this store (in memory; created with the wasm module). */
  get history() { return (this._history ??= HistoryStore.memory()); }
  async getVersion(url) { return structuredClone(this.versions.get(url) ?? null); }
  async getFiles(shas) { return shas.map((sha) => this.files.get(sha)?.slice() ?? null); }
  async deleteFile(sha) { this.files.delete(sha); }
  async commitVersion(version, files) {
    for (const [sha, f] of files) this.files.set(sha, f.bytes.slice());
    this.versions.set(version.manifestUrl, structuredClone(version));
    const live = new Set([...this.versions.values()].flatMap((v) => Object.values(v.files)));
    for (const sha of [...this.files.keys()]) if (!live.has(sha)) this.files.delete(sha);
  }
  close() {}
}

/** True for the DOMException browsers throw when a write would exceed the origin's quota. */
export function isQuotaError(e) {
  return e?.name === 'QuotaExceededError' || e?.code === 22 || /quota/i.test(e?.message ?? '');
}
