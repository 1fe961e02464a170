// Reading what a client's /sync and /capabilities say, for the suites that need the same reading
// in several files: the ephemeral events of a joined room, and whether the server forgets rooms on
// leave.
import { cs, type Body, type MatrixClient, type SyncResponse } from "./client.ts";

/** The ephemeral events of one type (m.typing, m.receipt, ...) in a joined room of a /sync response. */
export function ephemeral(res: SyncResponse, roomId: string, type: string): Body[] {
  return (res.rooms?.join?.[roomId]?.ephemeral?.events ?? []).filter((e: Body) => e.type === type);
}

/**
 * Skips the test when the server forgets rooms on leave (the m.forget_forced_upon_leave
 * capability, v1.18): a left room's state and its rooms.leave entry in /sync are then gone, which
 * the spec allows. `consequence` completes the reason ("so a left room's state is not readable").
 * The capabilities are read as a step (StepFailed when /capabilities does not answer 2xx).
 */
export async function skipIfLeaveForgets(client: MatrixClient, skip: (note: string) => never, consequence: string): Promise<void> {
  const caps = await client.step<Body>("read /capabilities", "GET", cs.v3`/capabilities`);
  if (caps?.capabilities?.["m.forget_forced_upon_leave"]?.enabled === true) {
    skip(`the server forgets rooms on leave (m.forget_forced_upon_leave), ${consequence}`);
  }
}
