'use client';
// Rendered on the server at build time (static export) and hydrated in the browser: the package is
// imported inside the effect, which only runs in the browser.
import { useEffect, useState } from 'react';

export default function Page() {
  const [state, setState] = useState({ status: 'loading', items: [] });
  useEffect(() => {
    let cancelled = false;
    (async () => {
      const { open, openInWorker } = await import('localrec');
      const mode = new URLSearchParams(location.search).get('mode') ?? 'page';
      const rec = await (mode === 'worker' ? openInWorker : open)('/www/artifacts/synthetic/manifest.json', { dbName: `next-${mode}` });
      await rec.record('sku-00042', 'view');
      const { items } = await rec.recommend({ k: 5 });
      await rec.close();
      if (!cancelled) setState({ status: `ok ${mode} ${items.length}`, items });
    })().catch((e) => { if (!cancelled) setState({ status: `error ${e.code ?? e.name}: ${e.message}`, items: [] }); });
    return () => { cancelled = true; };
  }, []);
  return (
    <main>
      <ol id="recs">{state.items.map((it) => <li key={it.id}>{it.title}: {it.reason.text}</li>)}</ol>
      <p id="status">{state.status}</p>
    </main>
  );
}
