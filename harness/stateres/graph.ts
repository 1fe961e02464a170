// Small graph helpers shared by the resolvers and the DAG walk.

/**
 * Depth-first post-order from `starts` along `next` edges: every vertex comes after all vertices
 * it reaches. Iterative (no recursion limit). Calls `onCycle` with a vertex on a cycle if the
 * edges loop back onto the current path.
 */
export function postOrder(
  starts: Iterable<string>,
  next: (id: string) => readonly string[],
  onCycle: (id: string) => never,
): string[] {
  const order: string[] = [];
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: finished
  const stackIds: string[] = [];
  const stackPos: number[] = [];
  for (const s of starts) {
    if (state.has(s)) continue;
    state.set(s, 1);
    stackIds.push(s);
    stackPos.push(0);
    while (stackIds.length > 0) {
      const top = stackIds.length - 1;
      const id = stackIds[top]!;
      const children = next(id);
      const i = stackPos[top]!;
      if (i < children.length) {
        stackPos[top] = i + 1;
        const c = children[i]!;
        const st = state.get(c);
        if (st === undefined) {
          state.set(c, 1);
          stackIds.push(c);
          stackPos.push(0);
        } else if (st === 1) {
          onCycle(c);
        }
      } else {
        state.set(id, 2);
        order.push(id);
        stackIds.pop();
        stackPos.pop();
      }
    }
  }
  return order;
}
