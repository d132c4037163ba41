/**
 * Field rules of the create dialog, the same ones the server applies.
 * Each validator returns a message for people, or null when the value is fine.
 */

/** 4–63 chars, lowercase letter first, lowercase letters/digits/hyphens, no trailing hyphen. */
export const SESSION_ID_PATTERN = /^[a-z][a-z0-9-]{2,61}[a-z0-9]$/;
export const LABEL_KEY_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
export const LABEL_VALUE_PATTERN = /^[a-z0-9_-]{0,63}$/;
export const MAX_LABELS = 32;

/** Bounds of ttl and idle ttl, in seconds. */
export const MIN_TTL_SECONDS = 10 * 60;
export const MAX_TTL_SECONDS = 14 * 24 * 3600;

export function validateSessionId(id: string): string | null {
  if (!id) {
    return 'Enter a session ID.';
  }
  if (id.length < 4) {
    return 'Use at least 4 characters.';
  }
  if (id.length > 63) {
    return `Use at most 63 characters (this one has ${id.length}).`;
  }
  if (!/^[a-z]/.test(id)) {
    return 'Start with a lowercase letter.';
  }
  if (/[^a-z0-9-]/.test(id)) {
    const bad = Array.from(new Set(id.replace(/[a-z0-9-]/g, '').split('')))
      .map(c => `"${c}"`)
      .join(', ');
    return `Use only lowercase letters, digits and hyphens (not ${bad}).`;
  }
  if (id.endsWith('-')) {
    return 'Do not end with a hyphen.';
  }
  return SESSION_ID_PATTERN.test(id) ? null : 'Not a valid session ID.';
}

export interface ILabelParseResult {
  labels: Record<string, string>;
  error: string | null;
}

/**
 * Parse labels written as `key=value` pairs separated by commas or new lines.
 * A bare `key` means an empty value.
 */
export function parseLabels(text: string): ILabelParseResult {
  const labels: Record<string, string> = {};
  const entries = text
    .split(/[,\n]/)
    .map(entry => entry.trim())
    .filter(entry => entry.length > 0);
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const key = (eq >= 0 ? entry.slice(0, eq) : entry).trim();
    const value = eq >= 0 ? entry.slice(eq + 1).trim() : '';
    if (!key) {
      return { labels, error: `"${entry}": the key is empty.` };
    }
    if (!LABEL_KEY_PATTERN.test(key)) {
      return {
        labels,
        error: `Label key "${key}": start with a lowercase letter; use lowercase letters, digits, "_" or "-"; at most 63 characters.`
      };
    }
    if (!LABEL_VALUE_PATTERN.test(value)) {
      return {
        labels,
        error: `Label value "${value}" (key "${key}"): use lowercase letters, digits, "_" or "-"; at most 63 characters.`
      };
    }
    if (key in labels) {
      return { labels, error: `Label key "${key}" appears twice.` };
    }
    labels[key] = value;
  }
  const count = Object.keys(labels).length;
  if (count > MAX_LABELS) {
    return {
      labels,
      error: `At most ${MAX_LABELS} labels (found ${count}).`
    };
  }
  return { labels, error: null };
}

export function validateLabels(text: string): string | null {
  return parseLabels(text).error;
}

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86400
};

/**
 * Parse a gcloud-style duration (`90s`, `30m`, `2h`, `1d`, `1h30m`, `1.5h`)
 * into whole seconds. A bare number means seconds. Returns null when the
 * text is not a duration.
 */
export function parseDuration(text: string): number | null {
  const value = text.trim().toLowerCase();
  if (!value) {
    return null;
  }
  if (/^\d+(\.\d+)?$/.test(value)) {
    return Math.round(Number(value));
  }
  const part = /(\d+(?:\.\d+)?)\s*([smhd])/g;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = part.exec(value)) !== null) {
    if (match.index !== consumed) {
      return null;
    }
    total += Number(match[1]) * UNIT_SECONDS[match[2]];
    consumed = match.index + match[0].length;
    while (value[consumed] === ' ') {
      consumed++;
    }
  }
  if (consumed !== value.length || consumed === 0) {
    return null;
  }
  return Math.round(total);
}

/** Parse a protobuf JSON duration (`"3600s"`, `"1.5s"`) into seconds. */
export function parseProtoDuration(text: string | undefined): number | null {
  if (!text) {
    return null;
  }
  const match = /^(-?\d+(?:\.\d+)?)s$/.exec(text.trim());
  return match ? Number(match[1]) : null;
}

/** Seconds as the API's duration string. */
export function toProtoDuration(seconds: number): string {
  return `${Math.round(seconds)}s`;
}

/**
 * Validate an optional ttl / idle ttl field: empty is fine (the server
 * default applies), otherwise a duration between 10 minutes and 14 days.
 */
export function validateTtl(text: string): string | null {
  if (!text.trim()) {
    return null;
  }
  const seconds = parseDuration(text);
  if (seconds === null) {
    return 'Write a duration such as 90s, 30m, 2h or 1d.';
  }
  if (seconds < MIN_TTL_SECONDS) {
    return 'At least 10 minutes.';
  }
  if (seconds > MAX_TTL_SECONDS) {
    return 'At most 14 days.';
  }
  return null;
}

/**
 * Parse runtime properties written as `prefix:key=value`, one per line or
 * comma-separated.
 */
export function parseProperties(text: string): {
  properties: Record<string, string>;
  error: string | null;
} {
  const properties: Record<string, string> = {};
  const entries = text
    .split(/\n/)
    .map(entry => entry.trim())
    .filter(entry => entry.length > 0);
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      return {
        properties,
        error: `"${entry}": write properties as key=value (e.g. spark:spark.executor.cores=4).`
      };
    }
    const key = entry.slice(0, eq).trim();
    if (/\s/.test(key)) {
      return { properties, error: `Property key "${key}" contains spaces.` };
    }
    properties[key] = entry.slice(eq + 1).trim();
  }
  return { properties, error: null };
}
