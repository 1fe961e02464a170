// Shared by the tests of harness/schemas: the spec checkout to test against, loaded once per
// test file (worker). MATRIX_SPEC_DIR wins; else ../shared/matrix-spec beside the repository.

import { defaultSpecDirForTests, loadSpec, resolveSpecDir, type Spec } from "../../harness/schemas/index.ts";

export const SPEC_DIR = resolveSpecDir(defaultSpecDirForTests());

export function getSpec(): Promise<Spec> {
  return loadSpec(SPEC_DIR);
}

/** A JSON response as the recording client would hand it over. */
export function json(method: string, path: string, status: number, body: unknown) {
  return { method, path, status, contentType: "application/json", body };
}
