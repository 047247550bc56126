import { describe, expect, it } from "vitest";
import type { VersionInfo } from "./bindings";
import { authorName, daysLeftText, diffCounts, versionSummary, versionSummaryLong } from "./history";
import { lineDiff } from "./mockNode";

function version(v: Partial<VersionInfo>): VersionInfo {
  return {
    id: "abcdef012345",
    author: "m".repeat(52),
    author_name: "Ada",
    started_at: 0,
    ended_at: 0,
    changes: 1,
    added: 0,
    removed: 0,
    kind: "edited",
    current: false,
    ...v,
  };
}

describe("history words", () => {
  it("says what each version did", () => {
    expect(versionSummary(version({ kind: "created" }))).toBe("Created");
    expect(versionSummary(version({ kind: "deleted" }))).toBe("Deleted");
    expect(versionSummary(version({ kind: "restored" }))).toBe("Restored from the trash");
    expect(versionSummary(version({ added: 12, removed: 3 }))).toBe("+12 −3");
    expect(versionSummary(version({}))).toBe("Tags or links changed");
    expect(versionSummaryLong(version({ added: 2, removed: 1, changes: 4 }))).toBe(
      "2 characters added, 1 removed (4 changes)",
    );
  });

  it("names an author, or the start of their id", () => {
    expect(authorName("Bo", "x".repeat(52))).toBe("Bo");
    expect(authorName(null, "0123456789abcdef")).toBe("01234567");
    expect(authorName(null, null)).toBe("Unknown");
  });

  it("counts the days left in the trash", () => {
    expect(daysLeftText({ days_left: 30 })).toBe("30 days left");
    expect(daysLeftText({ days_left: 1 })).toBe("last day");
  });

  it("diffs lines as the node does", () => {
    const d = lineDiff("a\nb\nc\n", "a\nB\nc\nd\n");
    expect(d.map((l) => `${l.side}:${l.text}`)).toEqual(["both:a", "then:b", "now:B", "both:c", "now:d"]);
    expect(diffCounts(d)).toEqual({ then: 1, now: 2 });
  });
});
