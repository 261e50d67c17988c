/**
 * The panel's formatting. `format_cases.json` is shared with the kernel side:
 * tests/test_format_parity.py checks that pricing.format_usd gives the same text for each
 * amount, so the widget and the panel never show one cost two ways.
 */
import {
  collapseCarriageReturns,
  failureSummary,
  formatInstance,
  formatTtl,
  formatUsd,
  middleEllipsis,
  plural
} from '../src/format';

import cases from './format_cases.json';

describe('formatUsd', () => {
  it.each(cases.usd as Array<[number | null, string]>)('formats %p as %p, as the kernel does', (amount, text) => {
    expect(formatUsd(amount)).toBe(text);
  });
});

describe('middleEllipsis', () => {
  it('keeps the end of a generated name, which tells jobs apart', () => {
    const a = 'sm-train-2026-12-01-08-31-07-123';
    const b = 'sm-train-2026-12-01-08-31-09-456';
    const shortA = middleEllipsis(a, 20);
    const shortB = middleEllipsis(b, 20);
    expect(shortA).toHaveLength(20);
    expect(shortA).toContain('…');
    expect(shortA.startsWith('sm-train')).toBe(true);
    expect(shortA.endsWith('07-123')).toBe(true);
    expect(shortA).not.toBe(shortB);
  });

  it('leaves short names alone', () => {
    expect(middleEllipsis('iris', 20)).toBe('iris');
  });
});

describe('failureSummary', () => {
  it('shows the exception, not the command and its exit code', () => {
    const reason =
      'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\n' +
      'ErrorMessage "Traceback (most recent call last):\n  File "train.py", line 3\n' +
      'ValueError: learning rate must be positive"\nCommand "python train.py --lr -1", exit code: 1';
    expect(failureSummary(reason)).toBe('ValueError: learning rate must be positive');
  });

  it('keeps a plain reason', () => {
    expect(failureSummary('MaxRuntimeExceeded: 60 s')).toBe('MaxRuntimeExceeded: 60 s');
    expect(failureSummary(null)).toBe('');
  });
});

describe('collapseCarriageReturns', () => {
  it('shows the latest state of a redrawn progress bar', () => {
    expect(collapseCarriageReturns(' 10%|#   | 1/10\r 50%|#####| 5/10\r100%|##########| 10/10')).toBe(
      '100%|##########| 10/10'
    );
  });

  it('overwrites like a terminal, and ignores a trailing \\r', () => {
    expect(collapseCarriageReturns('abcdef\rxy')).toBe('xycdef');
    expect(collapseCarriageReturns('done\r')).toBe('done');
    expect(collapseCarriageReturns('plain')).toBe('plain');
  });
});

describe('small words', () => {
  it('pluralises', () => {
    expect(plural(1, 'job')).toBe('1 job');
    expect(plural(2, 'job')).toBe('2 jobs');
    expect(plural(0, 'endpoint')).toBe('0 endpoints');
  });

  it('writes instance counts with ×', () => {
    expect(formatInstance('ml.m5.large', 2)).toBe('ml.m5.large ×2');
    expect(formatInstance('ml.m5.large', 1)).toBe('ml.m5.large');
  });

  it('counts a TTL down', () => {
    expect(formatTtl(1000 + 7140, 1000)).toBe('deletes itself in 1h 59m');
    expect(formatTtl(null, 1000)).toBe('');
    expect(formatTtl(900, 1000)).toBe('TTL due, deleting');
  });
});
