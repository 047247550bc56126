// Following a `[[wiki link]]` from rendered Markdown: the note it names in the selected space, by
// title among the listed notes, else as the node finds it (titles and aliases).

import * as api from "./api";
import { app } from "./app.svelte";

/** Opens the note `[[target]]` names; false when no note of the selected space has that name. */
export async function openWikiLink(target: string): Promise<boolean> {
  const name = target.trim().toLowerCase();
  if (name === "") return false;
  const listed = app.notes.find((n) => n.title.trim().toLowerCase() === name);
  if (listed) {
    app.openNote(listed.id);
    return true;
  }
  const space = app.space?.id ?? app.identity?.personal_space ?? null;
  try {
    const phrase = target.replace(/"/g, " ").trim();
    const { items } = await api.search(`"${phrase}" kind:note`, space, 10);
    const hit = items.find((h) => h.title.trim().toLowerCase() === name) ?? items[0];
    if (!hit) return false;
    app.openDoc(hit);
    return true;
  } catch {
    return false;
  }
}
