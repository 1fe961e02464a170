// Errors raised by the spec loader. Both carry a human, multi-line message meant to be printed as
// is (no stack trace): the first line says what is wrong, the following lines what to do.

/** The Matrix spec data could not be found: no directory given, or the directory is not a spec checkout. */
export class SpecSourceError extends Error {
  override readonly name = "SpecSourceError";
  constructor(message: string) {
    super(message);
    // The message is the whole story; a stack trace would only bury it.
    this.stack = `${this.name}: ${message}`;
  }
}

/** The project's own data under schemas/ (formats.json, overlays.json) is malformed. */
export class ProjectDataError extends Error {
  override readonly name = "ProjectDataError";
  constructor(message: string) {
    super(message);
    this.stack = `${this.name}: ${message}`;
  }
}
