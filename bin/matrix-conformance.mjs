#!/usr/bin/env node
// The installed command: loads the TypeScript sources through tsx and runs the CLI.
import { register } from "tsx/esm/api";

register();
process.env.MATRIX_CONFORMANCE_BIN = "1";
await import("../harness/cli.ts");
