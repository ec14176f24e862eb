// Where downloaded artifacts and the visitor's history live: IndexedDB, or memory when IndexedDB is
// missing, blocked or full. Both are the wasm core's (src/wasm/idb.rs opens the database and owns its
// schema; src/wasm/cache.rs and src/cache.rs keep the files and the version each manifest URL starts
// from; src/wasm/history.rs the history): this file only gives them the shape the loader uses.

import { HistoryStore } from './localrec.js';

/** Opens (or creates) the IndexedDB store. Rejects if IndexedDB is missing, blocked or refuses. */
export async function openIndexedDbStore(name = 'localrec', { timeoutMs = 5000 } = {}) {
  return new Store('indexeddb', name, await HistoryStore.openIndexedDb(name, timeoutMs));
}

class Store {
  constructor(kind, name, history) {
    this.kind = kind;
    this.name = name;
    this._history = history;
    this._files = null;
  }
  /** The visitors' histories of this store. */
  get history() { return (this._history ??= HistoryStore.memory()); }
  /** The cache of downloaded files (the core's FileCache: the loader reads and writes it). */
  get files() { return (this._files ??= this.history.fileCache()); }
  close() { this._history?.close(); }
  /** Closes it after a failed open: a database that open created and nothing filled is deleted. */
  async discard() { await this._history?.discard(); }
}

/**
 * The store `open` uses (the wasm module loaded): the app's (`options.store`), memory (`storage:
 * 'memory'`), else IndexedDB, or memory and a 'degraded' event when IndexedDB is unusable.
 */
export async function storeFor(opts, emit) {
  if (opts.store) return opts.store;
  if (opts.storage === 'memory') return new MemoryStore();
  try { return await openIndexedDbStore(opts.dbName); } catch (e) {
    emit({ type: 'degraded', reason: 'indexeddb-unavailable', message: `IndexedDB unavailable (${e.message}): working from memory, nothing is kept after this page` });
    return new MemoryStore();
  }
}

/** The same store in memory: the fallback when IndexedDB is unusable, and a test double. */
export class MemoryStore extends Store {
  // The wasm module may not be loaded yet: the histories and files are created on first use.
  constructor() { super('memory', 'memory', null); }
}
