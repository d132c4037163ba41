import {
  parseDuration,
  parseLabels,
  parseProperties,
  parseProtoDuration,
  toProtoDuration,
  validateSessionId,
  validateTtl
} from '../validation';

describe('validateSessionId (same rules as the server)', () => {
  it.each(['abcd', 'my-session-1', 'a1b2', `a${'b'.repeat(61)}c`])(
    'accepts %s',
    id => {
      expect(validateSessionId(id)).toBeNull();
    }
  );

  it.each([
    ['', 'Enter a session ID.'],
    ['abc', 'Use at least 4 characters.'],
    [`a${'b'.repeat(63)}`, 'Use at most 63 characters (this one has 64).'],
    ['1abc', 'Start with a lowercase letter.'],
    ['-abc', 'Start with a lowercase letter.'],
    ['Abcd', 'Start with a lowercase letter.'],
    ['abCd', 'Use only lowercase letters, digits and hyphens (not "C").'],
    [
      'ab_d.e',
      'Use only lowercase letters, digits and hyphens (not "_", ".").'
    ],
    ['abcd-', 'Do not end with a hyphen.']
  ])('rejects %j with %j', (id, message) => {
    expect(validateSessionId(id)).toBe(message);
  });
});

describe('parseLabels', () => {
  it('reads key=value pairs separated by commas and new lines', () => {
    expect(parseLabels('team=data, env=dev\nowner=alice')).toEqual({
      labels: { team: 'data', env: 'dev', owner: 'alice' },
      error: null
    });
  });

  it('treats a bare key as an empty value', () => {
    expect(parseLabels('flag').labels).toEqual({ flag: '' });
  });

  it('rejects a key that breaks the rules', () => {
    expect(parseLabels('Team=x').error).toMatch(
      /^Label key "Team": start with a lowercase letter/
    );
    expect(parseLabels('1a=x').error).toMatch(/^Label key "1a"/);
    expect(parseLabels(`${'k'.repeat(64)}=x`).error).toMatch(
      /at most 63 characters/
    );
  });

  it('rejects a value that breaks the rules', () => {
    expect(parseLabels('env=Prod').error).toBe(
      'Label value "Prod" (key "env"): use lowercase letters, digits, "_" or "-"; at most 63 characters.'
    );
  });

  it('rejects empty keys and duplicates', () => {
    expect(parseLabels('=x').error).toBe('"=x": the key is empty.');
    expect(parseLabels('a=1,a=2').error).toBe('Label key "a" appears twice.');
  });

  it('allows 32 labels and rejects 33', () => {
    const many = (n: number) =>
      Array.from({ length: n }, (_, i) => `k${i}=v`).join(',');
    expect(parseLabels(many(32)).error).toBeNull();
    expect(parseLabels(many(33)).error).toBe('At most 32 labels (found 33).');
  });
});

describe('durations', () => {
  it.each([
    ['90s', 90],
    ['30m', 1800],
    ['2h', 7200],
    ['1d', 86400],
    ['1h30m', 5400],
    ['1h 30m', 5400],
    ['1.5h', 5400],
    ['600', 600],
    [' 2H ', 7200]
  ])('parses %j as %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', 'abc', '10x', 'm30', '1h foo', '-5m'])('rejects %j', text => {
    expect(parseDuration(text)).toBeNull();
  });

  it('converts to and from the API form', () => {
    expect(toProtoDuration(3600)).toBe('3600s');
    expect(parseProtoDuration('86400s')).toBe(86400);
    expect(parseProtoDuration('1.5s')).toBe(1.5);
    expect(parseProtoDuration('1h')).toBeNull();
    expect(parseProtoDuration(undefined)).toBeNull();
  });

  it('checks the ttl range of 10 minutes to 14 days', () => {
    expect(validateTtl('')).toBeNull();
    expect(validateTtl('10m')).toBeNull();
    expect(validateTtl('14d')).toBeNull();
    expect(validateTtl('9m')).toBe('At least 10 minutes.');
    expect(validateTtl('15d')).toBe('At most 14 days.');
    expect(validateTtl('soon')).toBe(
      'Write a duration such as 90s, 30m, 2h or 1d.'
    );
  });
});

describe('parseProperties', () => {
  it('reads one key=value per line', () => {
    expect(
      parseProperties(
        'spark:spark.executor.cores=4\nspark:spark.driver.memory=4g'
      ).properties
    ).toEqual({
      'spark:spark.executor.cores': '4',
      'spark:spark.driver.memory': '4g'
    });
  });

  it('rejects a line without =', () => {
    expect(parseProperties('oops').error).toMatch(
      /write properties as key=value/
    );
  });
});
