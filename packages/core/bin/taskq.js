#!/usr/bin/env node
// Committed launcher so `npx taskq` is linked at install time, before the first build creates dist/.
import '../dist/cli/main.js';
