// Copies the browser bundles the playground page loads out of node_modules into a
// folder, laid out as the CDN serves them: <dir>/<package>@<version>/<file>.
//
//   npm ci --prefix web && npm run copy --prefix web     (from the repository root)
//
// fills web/dist, which a server started from the repository root (go run .) serves by
// itself; `npm run copy --prefix web -- /srv/connectsession-assets` fills another folder,
// for PLAYGROUND_ASSETS_DIR.
//
// The files to copy are package.json's "playgroundAssets"; the versions are its exact
// "dependencies", which must equal what npm installed and what playground/versions.go
// pins (a Go test compares the two). It prints each file's SRI hash, the value
// playground/versions.go must carry.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, 'dist'));
const manifest = JSON.parse(await readFile(join(here, 'package.json'), 'utf8'));

for (const [pkg, files] of Object.entries(manifest.playgroundAssets)) {
  const want = manifest.dependencies[pkg];
  const installed = JSON.parse(await readFile(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  if (installed !== want) {
    throw new Error(`${pkg}: node_modules has ${installed}, package.json pins ${want}; run npm ci in web/`);
  }
  for (const file of files) {
    const from = join(here, 'node_modules', pkg, file);
    const to = join(out, `${pkg}@${want}`, file);
    await mkdir(dirname(to), { recursive: true });
    await copyFile(from, to);
    const sri = 'sha256-' + createHash('sha256').update(await readFile(to)).digest('base64');
    console.log(`${sri}  ${pkg}@${want}/${file}`);
  }
}
if (out === join(here, 'dist')) {
  console.log(`copied to ${out}; a server started from the repository root (go run .) serves it by itself, `
    + `one started elsewhere with PLAYGROUND_ASSETS_DIR=${out}`);
} else {
  console.log(`copied to ${out}; start the service with PLAYGROUND_ASSETS_DIR=${out}`);
}
