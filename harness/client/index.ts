// Public entry point of the scripted client.
export * from "./client.ts";
export * from "./binary.ts";
export * from "./exchange.ts";
export * from "./register.ts";
export * from "./sync.ts";
