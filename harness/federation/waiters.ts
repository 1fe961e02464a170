// Bounded waits on what a peer receives, instead of sleeps: a waiter resolves with the first item
// (already received, or arriving later) that matches, or fails after its timeout saying what it
// waited for and what did arrive.

import { WaitTimedOut } from "../client/client.ts";
import type { RoomVersionId, WirePdu } from "./events.ts";

/** A PDU the peer received, with what its checks found. */
export interface ReceivedPdu {
  via: "transaction" | "send_join" | "send_leave" | "send_knock" | "invite";
  origin: string;
  roomId: string;
  roomVersion?: RoomVersionId;
  eventId: string;
  event: WirePdu;
  /** Format, signature, hash and authorisation problems; empty when the event is sound. */
  problems: string[];
  receivedAt: number;
}

export interface ReceivedEdu {
  origin: string;
  edu_type: string;
  content: unknown;
  receivedAt: number;
}

interface Pending<T> {
  predicate: (item: T) => boolean;
  resolve: (item: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class Inbox<T> {
  readonly items: T[] = [];
  private readonly pending = new Set<Pending<T>>();
  private closedReason: string | undefined;

  constructor(private readonly describe: (item: T) => string, private readonly noun: string) {}

  push(item: T): void {
    this.items.push(item);
    for (const p of [...this.pending]) {
      let hit = false;
      try {
        hit = p.predicate(item);
      } catch (e) {
        this.pending.delete(p);
        clearTimeout(p.timer);
        p.reject(e as Error);
        continue;
      }
      if (hit) {
        this.pending.delete(p);
        clearTimeout(p.timer);
        p.resolve(item);
      }
    }
  }

  /** The first item, received before or after the call, that matches. */
  waitFor(predicate: (item: T) => boolean, timeoutMs: number, what: string, where: string): Promise<T> {
    const found = this.items.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    if (this.closedReason) return Promise.reject(new Error(`cannot wait for ${what}: ${this.closedReason}`));
    return new Promise<T>((resolve, reject) => {
      const p: Pending<T> = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.pending.delete(p);
          reject(new WaitTimedOut(`${what} at ${where}; ${this.summary()}`, timeoutMs));
        }, timeoutMs),
      };
      this.pending.add(p);
    });
  }

  /** What arrived so far, for timeout messages. */
  summary(max = 15): string {
    if (this.items.length === 0) return `no ${this.noun} arrived`;
    const shown = this.items.slice(-max).map((i) => `  - ${this.describe(i)}`);
    const more = this.items.length > max ? `  (and ${this.items.length - max} earlier)\n` : "";
    return `${this.items.length} ${this.noun} arrived, none matching:\n${more}${shown.join("\n")}`;
  }

  close(reason: string): void {
    this.closedReason = reason;
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`stopped waiting: ${reason}`));
    }
    this.pending.clear();
  }
}
