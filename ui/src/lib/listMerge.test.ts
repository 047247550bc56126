import { describe, expect, it } from "vitest";
import type { ListItem } from "./bindings";
import { mergeNewest } from "./listMerge";

function item(id: string, updated_at: number, title = id): ListItem {
  return {
    id,
    kind: "note",
    title,
    tags: [],
    author: "m",
    space: "s",
    created_at: 0,
    updated_at,
    answers: 0,
    accepted: false,
  };
}

const old = [item("c", 30), item("b", 20), item("a", 10)];

describe("mergeNewest", () => {
  it("moves a changed row to the front with its new title", () => {
    const newest = [item("a", 40, "A renamed"), item("c", 30)];
    const merged = mergeNewest(old, newest, new Map([["a", false]]));
    expect(merged?.map((i) => [i.id, i.title])).toEqual([
      ["a", "A renamed"],
      ["c", "c"],
      ["b", "b"],
    ]);
  });

  it("adds a new document and drops a deleted one", () => {
    const newest = [item("d", 50), item("c", 30)];
    const merged = mergeNewest(
      old,
      newest,
      new Map([
        ["d", false],
        ["b", true],
      ]),
    );
    expect(merged?.map((i) => i.id)).toEqual(["d", "c", "a"]);
  });

  it("asks for the whole list when a changed document is not among the newest rows", () => {
    // Changed with an older time than the newest rows (another device's clock).
    const newest = [item("c", 30), item("b", 20)];
    expect(mergeNewest(old, newest, new Map([["a", false]]))).toBeNull();
  });
});
