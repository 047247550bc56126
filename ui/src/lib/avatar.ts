// Generated avatars: a stable hue from a member id, and initials from a name.

/** A hue (0–359) from `id`: FNV-1a over its UTF-16 code units, so the same member always gets
 * the same colour on every device. */
export function avatarHue(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 360;
}

/** Up to two initials of `name` ("Ada Lovelace" → "AL"), or "?" for an empty name. The
 *  member id the node adds to a name that looks like another member's ("Ada Lovelace
 *  (#3f2a91c0)") is not part of them. */
export function initials(name: string): string {
  const words = name
    .replace(/\s*\(#[0-9a-f]+\)$/, "")
    .trim()
    .split(/\s+/)
    .filter((w) => w.length > 0);
  if (words.length === 0) return "?";
  const first = [...words[0]][0] ?? "";
  const last = words.length > 1 ? ([...words[words.length - 1]][0] ?? "") : "";
  return (first + last).toUpperCase();
}

/** A background colour for an avatar of hue `hue`, readable with white text in both themes. */
export function avatarColour(hue: number): string {
  return `hsl(${hue} 45% 38%)`;
}

/** A short form of a member id for places where no name is known yet. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
