// A Next.js app (App Router, static export) using the package the way its README says: imported in a
// client component's effect, so server rendering never loads it. Built by tests/e2e/app.test.mjs
// into target/next-app/ (served under /target/next-app/), with pkg/ as the `localrec` package.
import { fileURLToPath } from 'node:url';

export default {
  output: 'export',
  basePath: '/target/next-app',
  distDir: '../../../target/next-app',
  webpack(config) {
    config.resolve.alias.localrec = fileURLToPath(new URL('../../../pkg/index.js', import.meta.url));
    return config;
  },
};
