import {
  formatAge,
  formatDcu,
  formatDcuHours,
  formatDuration,
  formatShortTime,
  idleCountdown,
  int64,
  runtimeKind,
  splitLabels,
  ttlCountdown,
  usageRows
} from '../format';
import { makeSession } from './fakes';

describe('formatting', () => {
  it.each([
    [0, '0s'],
    [45, '45s'],
    [90, '1m 30s'],
    [720, '12m'],
    [3600, '1h 00m'],
    [3 * 3600 + 5 * 60, '3h 05m'],
    [86400, '1d'],
    [2 * 86400 + 4 * 3600, '2d 4h']
  ])('formats %i seconds as %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('formats ages', () => {
    const now = Date.parse('2025-01-01T10:05:00Z');
    expect(formatAge('2025-01-01T10:00:00Z', now)).toBe('5m ago');
    expect(formatAge('2025-01-01T10:04:58Z', now)).toBe('just now');
    expect(formatAge(undefined, now)).toBe('');
  });

  it('writes short UTC times: the clock today, the day this year, the date before', () => {
    const now = Date.parse('2025-06-15T12:00:00Z');
    const today = '2025-06-15T09:05:07Z';
    const earlier = '2025-03-04T09:05:07Z';
    const lastYear = '2024-03-04T09:05:07Z';
    expect(formatShortTime(today, now)).toBe('09:05:07 UTC');
    expect(formatShortTime(today, now)).not.toMatch(/2025|Jun/);
    expect(formatShortTime(earlier, now)).toBe('Mar 4, 09:05 UTC');
    expect(formatShortTime(lastYear, now)).toMatch(/2024/);
    expect(formatShortTime(undefined, now)).toBe('');
  });

  it('reads int64 strings and formats usage', () => {
    expect(int64('1552350')).toBe(1552350);
    expect(int64(undefined)).toBe(0);
    expect(int64('x')).toBe(0);
    expect(formatDcu('4000')).toBe('4 DCU');
    expect(formatDcu(500)).toBe('0.5 DCU');
    expect(formatDcuHours('1552350')).toBe('0.43 DCU·h');
    expect(formatDcuHours('2500')).toBe('0.00069 DCU·h');
  });

  it('lists current and total usage', () => {
    const rows = usageRows(
      { milliDcu: '4000', snapshotTime: '2025-01-01T10:00:00Z' },
      { milliDcuSeconds: '7200000', shuffleStorageGbSeconds: '3600' }
    );
    expect(rows.map(r => [r.label, r.value])).toEqual([
      ['Current', '4 DCU'],
      ['Measured', expect.any(String)],
      ['Total', '2 DCU·h'],
      ['Shuffle total', '1 GB·h']
    ]);
    expect(usageRows(undefined, undefined)).toEqual([]);
  });

  it('splits system labels from user labels', () => {
    expect(
      splitLabels({ 'goog-dataproc-session-id': 'x', team: 'a', env: 'b' })
    ).toEqual({
      user: [
        ['env', 'b'],
        ['team', 'a']
      ],
      system: [['goog-dataproc-session-id', 'x']]
    });
  });

  it('names the runtime', () => {
    expect(runtimeKind({ jupyterSession: { kernel: 'PYTHON' } })).toBe(
      'Python'
    );
    expect(runtimeKind({ jupyterSession: { kernel: 'SCALA' } })).toBe('Scala');
    expect(runtimeKind({ sparkConnectSession: {} })).toBe('Spark Connect');
    expect(runtimeKind({})).toBe('');
  });
});

describe('countdowns', () => {
  const active = makeSession('a', 'ACTIVE', {
    stateTime: '2025-01-01T10:00:00Z',
    environmentConfig: { executionConfig: { idleTtl: '3600s', ttl: '86400s' } }
  });

  it('counts the idle ttl down from when the session became ACTIVE', () => {
    const now = Date.parse('2025-01-01T10:20:00Z');
    expect(idleCountdown(active, now)).toEqual({
      remaining: 2400,
      total: 3600,
      dueAt: Date.parse('2025-01-01T11:00:00Z')
    });
    expect(ttlCountdown(active, now)?.remaining).toBe(86400 - 1200);
  });

  it('stops at zero', () => {
    expect(
      idleCountdown(active, Date.parse('2025-01-01T12:00:00Z'))?.remaining
    ).toBe(0);
  });

  it('has no countdown unless ACTIVE with a ttl', () => {
    expect(idleCountdown({ ...active, state: 'CREATING' }, 0)).toBeNull();
    expect(
      idleCountdown({ ...active, environmentConfig: undefined }, 0)
    ).toBeNull();
  });
});
