// Writes www/artifacts/synthetic/experiment.json, the manifest the demo opens: the synthetic export's
// manifest.json plus a demo experiment (half the visitors get the int8 item table, half the pq table;
// the f32 table runs in shadow). scripts/export-synthetic.sh runs it after every export;
// tests/artifacts.rs checks the two manifests agree.
import { readFileSync, writeFileSync } from 'node:fs';

const dir = new URL('../www/artifacts/synthetic/', import.meta.url);
const m = JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8'));
const role = (r) => m.files.find((f) => f.role === r);
m.files.push({ ...role('items-pq'), role: 'items-int8@pq' }, { ...role('items-f32'), role: 'items-int8@f32' });
m.experiment = { name: 'item-table', variants: [{ name: 'int8', weight: 1 }, { name: 'pq', weight: 1 }, { name: 'f32', shadow: true }] };
writeFileSync(new URL('experiment.json', dir), JSON.stringify(m, null, 2) + '\n');
