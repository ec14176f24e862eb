// The one error type the JavaScript API throws. `code` is stable and machine-readable; the list of
// codes and their meaning is defined once, in Rust (`localrec::ERROR_CODES`, src/error.rs; the
// package's index.d.ts is checked against it), and `rules().errorCodes` gives it at run time.
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
