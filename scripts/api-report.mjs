#!/usr/bin/env node
// API reports: one per entry point of each package (packages/*/api-extractor*.json), made by API Extractor from the
// built .d.ts. `node scripts/api-report.mjs` (npm run api:check) fails when a committed report under packages/*/api/
// differs from the API as built; `--local` (npm run api:update) rewrites the reports instead. Build first.
// One process runs every config, so API Extractor's TypeScript is loaded once; only problems are printed.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import apiExtractor from '@microsoft/api-extractor';

const { Extractor, ExtractorConfig } = apiExtractor;
const root = fileURLToPath(new URL('..', import.meta.url));
const local = process.argv.includes('--local');

function configs() {
  const found = [];
  const packages = join(root, 'packages');
  for (const name of readdirSync(packages).sort()) {
    const dir = join(packages, name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    for (const file of readdirSync(dir).sort()) {
      if (/^api-extractor(\.[a-z0-9-]+)?\.json$/.test(file)) found.push(join(dir, file));
    }
  }
  return found;
}

let failed = 0;
for (const file of configs()) {
  const config = ExtractorConfig.loadFileAndPrepare(file);
  const label = relative(root, config.reportFilePath);
  if (!existsSync(config.mainEntryPointFilePath)) {
    console.error(`${label}: ${relative(root, config.mainEntryPointFilePath)} is missing: run npm run build first`);
    failed++;
    continue;
  }
  if (local) mkdirSync(config.reportFolder, { recursive: true });
  const problems = [];
  const result = Extractor.invoke(config, {
    localBuild: local,
    messageCallback(message) {
      // Warnings and errors are collected and printed below; API Extractor's own progress lines are not.
      const ours = message.category !== 'console'; // API Extractor's remarks on the report file itself are said below, once.
      if (ours && (message.logLevel === 'warning' || message.logLevel === 'error'))
        problems.push(message.formatMessageWithLocation(root));
      message.handled = true;
    },
  });
  for (const problem of problems) console.error(`${label}: ${problem}`);
  if (result.apiReportChanged && !local) {
    console.error(
      `${label}: the public API changed. Review the change, then run npm run api:update and commit the report.`,
    );
    console.error(`  new report: ${relative(root, config.reportTempFilePath)}`);
  } else if (result.apiReportChanged) {
    console.log(`${label}: updated`);
  }
  if (!result.succeeded) failed++;
}
if (failed > 0) {
  console.error(`api reports: ${failed} failed`);
  process.exit(1);
}
console.log(local ? 'api reports: written' : 'api reports: up to date');
