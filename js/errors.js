// The one error type the JavaScript API throws. `code` is stable and machine-readable:
//   offline-no-cache   the manifest cannot be fetched and no complete version is cached
//   network            a file download failed (HTTP error, connection lost midway)
//   size-mismatch      a downloaded file is shorter or longer than the manifest says
//   checksum-mismatch  a downloaded (or delta-rebuilt) file's SHA-256 differs from the manifest's
//   invalid-manifest   the manifest is not JSON, of another format version, or lacks a file
//   insecure-context   no crypto.subtle (serve over https or localhost)
//   closed             the recommender was closed
//   invalid-argument   a bad argument (unknown kind, k out of range, ...)
//   and the codes of the wasm core: corrupt-file, invalid-query, unknown-item, invalid-model,
//   invalid-delta, empty-history.
export class LocalRecError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'LocalRecError';
    this.code = code;
  }
}

/** Rewraps an error thrown by the wasm core (a plain Error named LocalRecError) as a LocalRecError. */
export function fromWasm(e) {
  if (e instanceof LocalRecError) return e;
  if (e?.name === 'LocalRecError' && typeof e.code === 'string') return new LocalRecError(e.code, e.message);
  return new LocalRecError('internal', String(e?.message ?? e), { cause: e });
}
