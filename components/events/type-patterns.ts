/** Same rules as the engine's typeMatches: exact, trailing `.*` wildcard, or `*`. */
export function typeMatches(pattern: string, type: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** A usable type pattern: dotted words, optionally ending in `.*`. */
export function isValidPattern(pattern: string): boolean {
  return pattern === "*" || /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?$/.test(pattern);
}

/** Suggestions for a type filter: every family wildcard (`exam.*`) and every type. */
export function patternSuggestions(types: readonly string[]): string[] {
  const families = new Set<string>();
  for (const type of types) {
    const parts = type.split(".");
    for (let length = 1; length < parts.length; length++) families.add(`${parts.slice(0, length).join(".")}.*`);
  }
  return [...[...families].sort(), ...[...types].sort()];
}
