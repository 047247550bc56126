// Keeping a long list current without reading all of it again on every change.
//
// Lists are newest change first, so a document that just changed is among the newest rows. After
// changes to a few documents the list is brought up to date by reading only the newest rows and
// putting them in front of the old rows that are not among them. When that cannot be shown to
// be right (a changed document is not among the newest rows: say a peer's clock is behind), the
// caller reads the whole list instead.

import type { ListItem } from "./bindings";

/** `old` brought up to date with `newest` (the first rows of the list as it is now), after
 * changes to the documents in `changed` (id → deleted). `null` when a changed document that is
 * not deleted is missing from `newest`: then only the whole list is right. */
export function mergeNewest(
  old: readonly ListItem[],
  newest: readonly ListItem[],
  changed: ReadonlyMap<string, boolean>,
): ListItem[] | null {
  const inNewest = new Set(newest.map((i) => i.id));
  for (const [id, deleted] of changed) {
    if (!deleted && !inNewest.has(id)) return null;
  }
  return [...newest, ...old.filter((i) => !inNewest.has(i.id) && !changed.has(i.id))];
}
