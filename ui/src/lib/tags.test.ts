import { describe, expect, it } from "vitest";
import { formatTags, inlineTags, MAX_TAGS, normalizeTag, parseTags, sameTags } from "./tags";

describe("tags", () => {
  it("splits on commas and spaces, lowercases, strips #, de-duplicates in order", () => {
    expect(parseTags("Rust, async  #DB,rust").tags).toEqual(["rust", "async", "db"]);
    expect(parseTags("").tags).toEqual([]);
    expect(parseTags(" , ,, ").tags).toEqual([]);
    expect(parseTags("a\tb\nc").tags).toEqual(["a", "b", "c"]);
  });
  it("keeps what the node accepts: letters, digits, - _ / .", () => {
    expect(parseTags("k8s/prod v1.2 snake_case kebab-case Ünïcode").tags).toEqual([
      "k8s/prod",
      "v1.2",
      "snake_case",
      "kebab-case",
      "ünïcode",
    ]);
  });
  it("reports what the node would refuse", () => {
    const p = parseTags("good bad!tag c++");
    expect(p.tags).toEqual(["good"]);
    expect(p.invalid).toEqual(["bad!tag", "c++"]);
    expect(normalizeTag("x".repeat(65))).toBeNull();
    expect(normalizeTag("x".repeat(64))).toBe("x".repeat(64));
  });
  it("formats and compares", () => {
    expect(formatTags(["a", "b"])).toBe("a, b");
    expect(parseTags(formatTags(["a", "b"])).tags).toEqual(["a", "b"]);
    expect(sameTags(["a", "b"], ["b", "a"])).toBe(true);
    expect(sameTags(["a"], ["a", "b"])).toBe(false);
    expect(sameTags(["a", "c"], ["a", "b"])).toBe(false);
  });
  it("reads inline #tags from a body as the node does", () => {
    const body = [
      "# Heading",
      "Roll back with #Rollback, see #ops. And #ops again, #1 is no tag.",
      "`#code` and http://x.test/#frag and &#123; are not tags; [[Note#Part]] neither.",
      "```",
      "#fenced",
      "```",
      "Ends with #k8s/prod.",
    ].join("\n");
    expect(inlineTags(body)).toEqual(["rollback", "ops", "k8s/prod"]);
    const many = Array.from({ length: 100 }, (_, i) => `#t${i}`).join(" ");
    expect(inlineTags(many)).toHaveLength(MAX_TAGS);
  });
});
