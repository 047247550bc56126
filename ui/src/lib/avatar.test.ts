import { describe, expect, it } from "vitest";
import { avatarHue, initials, shortId } from "./avatar";

describe("avatar", () => {
  it("gives a stable hue in 0..359", () => {
    const id = "b3k4x5m2q7r9t1v8w6y0z3a5c7e9g2h4j6l8n0p1s3u5";
    expect(avatarHue(id)).toBe(avatarHue(id));
    for (const s of ["", "a", "b", id, "zzzzzzzzzzzzzzzz"]) {
      const h = avatarHue(s);
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(360);
    }
  });
  it("spreads different ids over the wheel", () => {
    const hues = new Set(Array.from({ length: 200 }, (_, i) => Math.floor(avatarHue(`member-${i}`) / 30)));
    expect(hues.size).toBe(12);
  });
  it("makes initials", () => {
    expect(initials("Ada Lovelace")).toBe("AL");
    expect(initials("  grace  brewster murray hopper ")).toBe("GH");
    expect(initials("Zoë")).toBe("Z");
    expect(initials("")).toBe("?");
    expect(initials("Ada Lovelace (#3f2a91c0)")).toBe("AL");
  });
  it("shortens ids", () => {
    expect(shortId("abcdefghijkl")).toBe("abcdefgh");
  });
});
