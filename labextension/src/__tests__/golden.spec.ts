/**
 * The side panel says what the magics, the widget panel and the CLI say: the
 * same golden cases are checked by tests/test_present_golden.py.
 */
import {
  formatAge,
  formatDcu,
  formatDcuHours,
  formatDuration,
  formatShortTime,
  formatTimestamp
} from '../format';
import {
  STATE_COLOUR_VARS,
  STATE_DESCRIPTIONS,
  STATE_LABELS
} from '../components/StateBadge';
import type { SessionState } from '../types';
import { parseLabels, validateSessionId, validateTtl } from '../validation';

interface IGolden {
  durations: { seconds: number; text: string }[];
  ages: { time: string; now: string; text: string }[];
  times: { time: string; now: string; full: string; short: string }[];
  usage: { milliDcuSeconds: number; text: string }[];
  dcu: { milliDcu: number; text: string }[];
  states: {
    state: SessionState;
    label: string;
    description: string;
    colourVar: string;
  }[];
  validation: Record<
    'sessionId' | 'ttl' | 'labels',
    { input: string; message: string | null }[]
  >;
}

const golden = jest.requireActual<IGolden>(
  '../../../tests/golden/format_cases.json'
);

describe('golden formatting cases', () => {
  it.each(golden.durations)('duration $seconds s', c => {
    expect(formatDuration(c.seconds)).toBe(c.text);
  });

  it.each(golden.ages)('age of $time at $now', c => {
    expect(formatAge(c.time, Date.parse(c.now))).toBe(c.text);
  });

  it.each(golden.times)('time $time in UTC', c => {
    expect(formatTimestamp(c.time)).toBe(c.full);
    expect(formatShortTime(c.time, Date.parse(c.now))).toBe(c.short);
  });

  it.each(golden.usage)('usage $milliDcuSeconds', c => {
    expect(formatDcuHours(c.milliDcuSeconds)).toBe(c.text);
  });

  it.each(golden.dcu)('rate $milliDcu', c => {
    expect(formatDcu(c.milliDcu)).toBe(c.text);
  });

  it.each(golden.states)('state $state', c => {
    expect(STATE_LABELS[c.state]).toBe(c.label);
    expect(STATE_DESCRIPTIONS[c.state]).toBe(c.description);
    expect(STATE_COLOUR_VARS[c.state]).toBe(c.colourVar);
  });

  it('covers every state', () => {
    expect(golden.states.map(c => c.state).sort()).toEqual(
      Object.keys(STATE_LABELS).sort()
    );
  });

  it.each(golden.validation.sessionId)('session id "$input"', c => {
    expect(validateSessionId(c.input)).toBe(c.message);
  });

  it.each(golden.validation.ttl)('ttl "$input"', c => {
    expect(validateTtl(c.input)).toBe(c.message);
  });

  it.each(golden.validation.labels)('labels "$input"', c => {
    expect(parseLabels(c.input).error).toBe(c.message);
  });
});
