// Writes pkg/README.md's "Use" example to readme-example.gen.js, so that `npm run typecheck`
// checks it against the package's .d.ts files as they are (checkJs, strict): the README's code
// cannot drift from the types. Run by the `typecheck` script before tsc.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const readme = fs.readFileSync(path.join(here, '../../../pkg/README.md'), 'utf8');
const use = readme.indexOf('\n## Use\n');
const block = use < 0 ? null : /```js\n([\s\S]*?)```/.exec(readme.slice(use));
if (!block) {
  console.error('pkg/README.md: no ```js block under "## Use" to type-check');
  process.exit(1);
}
fs.writeFileSync(
  path.join(here, 'readme-example.gen.js'),
  `// @ts-check\n// Generated from pkg/README.md's "Use" example by readme-example.mjs: do not edit.\n${block[1]}`,
);
