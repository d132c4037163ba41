/**
 * Formatting of times, durations and usage for the panel.
 */

import type { Int64, ISession, IUsageMetrics, IUsageSnapshot } from './types';
import { parseProtoDuration } from './validation';

/** Milliseconds since the epoch, or null for a missing or bad timestamp. */
export function parseTime(value: string | undefined): number | null {
  if (!value) {
    return null;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** A compact duration: `45s`, `12m`, `3h 05m`, `2d 4h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    const rest = s % 60;
    return rest && minutes < 10 ? `${minutes}m ${rest}s` : `${minutes}m`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  }
  const days = Math.floor(hours / 24);
  const restHours = hours % 24;
  return restHours ? `${days}d ${restHours}h` : `${days}d`;
}

/** How long ago a timestamp was, e.g. `5m ago`. */
export function formatAge(time: string | undefined, now: number): string {
  const ms = parseTime(time);
  if (ms === null) {
    return '';
  }
  const seconds = (now - ms) / 1000;
  if (seconds < 5) {
    return 'just now';
  }
  return `${formatDuration(seconds)} ago`;
}

const MONTHS = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec'
];

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** A full time in UTC, for tooltips: `2026-11-30 09:19:40 UTC` (one rule on every surface). */
export function formatTimestamp(time: string | undefined): string {
  const ms = parseTime(time);
  if (ms === null) {
    return '';
  }
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} UTC`
  );
}

/**
 * A compact UTC time for narrow columns: the clock on the same UTC day,
 * `Mar 4, 14:05 UTC` this year, `Mar 4, 2024` before.
 */
export function formatShortTime(
  time: string | undefined,
  now: number = Date.now()
): string {
  const ms = parseTime(time);
  if (ms === null) {
    return '';
  }
  const date = new Date(ms);
  const today = new Date(now);
  const hm = `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}`;
  const sameYear = date.getUTCFullYear() === today.getUTCFullYear();
  if (
    sameYear &&
    date.getUTCMonth() === today.getUTCMonth() &&
    date.getUTCDate() === today.getUTCDate()
  ) {
    return `${hm}:${pad2(date.getUTCSeconds())} UTC`;
  }
  const day = `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}`;
  if (sameYear) {
    return `${day}, ${hm} UTC`;
  }
  return `${day}, ${date.getUTCFullYear()}`;
}

/** An int64 JSON value as a number (0 when absent or malformed). */
export function int64(value: Int64 | undefined): number {
  if (value === undefined || value === null || value === '') {
    return 0;
  }
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
}

function trimNumber(n: number, digits: number): string {
  const text = n.toFixed(digits);
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** milli-DCU as DCU, e.g. `4 DCU`, `0.5 DCU`. */
export function formatDcu(milliDcu: Int64 | undefined): string {
  return `${trimNumber(int64(milliDcu) / 1000, 2)} DCU`;
}

/**
 * Usage so far in one unit, DCU-hours: `0 DCU·h`, `0.00017 DCU·h` (two
 * significant digits below 10), `12.3 DCU·h`, `1234 DCU·h`.
 */
export function formatDcuHours(milliDcuSeconds: Int64 | undefined): string {
  const hours = Math.max(0, int64(milliDcuSeconds)) / 1000 / 3600;
  if (hours === 0) {
    return '0 DCU·h';
  }
  if (hours < 0.00001) {
    return '<0.00001 DCU·h';
  }
  if (hours < 10) {
    const digits = Math.max(0, 1 - Math.floor(Math.log10(hours)));
    return `${trimNumber(hours, digits)} DCU·h`;
  }
  if (hours < 1000) {
    return `${trimNumber(hours, 1)} DCU·h`;
  }
  return `${Math.round(hours)} DCU·h`;
}

/** GB-seconds as GB-hours. */
export function formatGbHours(gbSeconds: Int64 | undefined): string {
  const hours = int64(gbSeconds) / 3600;
  return `${trimNumber(hours, hours < 10 ? 3 : 1)} GB·h`;
}

export interface IUsageRow {
  label: string;
  value: string;
  title?: string;
}

/** Rows for the usage section: what runs now, and the total so far. */
export function usageRows(
  current: IUsageSnapshot | undefined,
  approximate: IUsageMetrics | undefined
): IUsageRow[] {
  const rows: IUsageRow[] = [];
  if (current) {
    rows.push({
      label: 'Current',
      value: formatDcu(current.milliDcu),
      title: `${int64(current.milliDcu)} milli-DCU`
    });
    if (int64(current.shuffleStorageGb)) {
      rows.push({
        label: 'Shuffle storage',
        value: `${int64(current.shuffleStorageGb)} GB`
      });
    }
    if (current.snapshotTime) {
      rows.push({
        label: 'Measured',
        value: formatShortTime(current.snapshotTime),
        title: formatTimestamp(current.snapshotTime)
      });
    }
  }
  if (approximate) {
    rows.push({
      label: 'Total',
      value: formatDcuHours(approximate.milliDcuSeconds),
      title: `${int64(approximate.milliDcuSeconds)} milli-DCU-seconds`
    });
    if (int64(approximate.shuffleStorageGbSeconds)) {
      rows.push({
        label: 'Shuffle total',
        value: formatGbHours(approximate.shuffleStorageGbSeconds),
        title: `${int64(approximate.shuffleStorageGbSeconds)} GB-seconds`
      });
    }
  }
  return rows;
}

export interface ICountdown {
  /** Seconds left; 0 when already due. */
  remaining: number;
  /** The configured duration, in seconds. */
  total: number;
  /** When it is due (ms since the epoch). */
  dueAt: number;
}

/** Time left before an ACTIVE session reaches a limit counted from when it became ACTIVE. */
function countdownFrom(
  session: ISession,
  limit: string | undefined,
  now: number
): ICountdown | null {
  if (session.state !== 'ACTIVE') {
    return null;
  }
  const total = parseProtoDuration(limit);
  const since = parseTime(session.stateTime);
  if (total === null || since === null) {
    return null;
  }
  const dueAt = since + total * 1000;
  return {
    remaining: Math.max(0, (dueAt - now) / 1000),
    total,
    dueAt
  };
}

/**
 * Time left before the idle timeout of an ACTIVE session, counted from when
 * it became ACTIVE (activity resets the server's idle clock, so the real
 * shutdown can only come later than this).
 */
export function idleCountdown(
  session: ISession,
  now: number
): ICountdown | null {
  return countdownFrom(
    session,
    session.environmentConfig?.executionConfig?.idleTtl,
    now
  );
}

/** Time left before the hard ttl of an ACTIVE session. */
export function ttlCountdown(
  session: ISession,
  now: number
): ICountdown | null {
  return countdownFrom(
    session,
    session.environmentConfig?.executionConfig?.ttl,
    now
  );
}

/** Labels that the service adds itself. */
export function isSystemLabel(key: string): boolean {
  return key.startsWith('goog-');
}

/** User labels first, system labels apart. */
export function splitLabels(labels: Record<string, string> | undefined): {
  user: [string, string][];
  system: [string, string][];
} {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) =>
    a.localeCompare(b)
  );
  return {
    user: entries.filter(([key]) => !isSystemLabel(key)),
    system: entries.filter(([key]) => isSystemLabel(key))
  };
}

/** A short description of the session's runtime: `Python`, `Scala`, `Spark Connect`. */
export function runtimeKind(session: {
  jupyterSession?: { kernel?: string };
  sparkConnectSession?: object;
}): string {
  if (session.sparkConnectSession) {
    return 'Spark Connect';
  }
  const kernel = session.jupyterSession?.kernel;
  if (kernel === 'SCALA') {
    return 'Scala';
  }
  if (kernel === 'PYTHON') {
    return 'Python';
  }
  return session.jupyterSession ? 'Jupyter' : '';
}
