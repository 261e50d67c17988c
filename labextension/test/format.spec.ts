/**
 * The panel's formatting. `format_cases.json` is shared with the kernel side:
 * tests/test_format_parity.py checks that pricing.format_usd gives the same text for each
 * amount, so the widget and the panel never show one cost two ways.
 */
import {
  approvalLabel,
  collapseCarriageReturns,
  failureSummary,
  fitMiddle,
  formatMetric,
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

describe('fitMiddle', () => {
  // A font where "…" is narrow and digits are wide, so a per-character guess would be off.
  const measure = (text: string): number =>
    [...text].reduce((sum, c) => sum + (c === '…' ? 4 : /\d/.test(c) ? 9 : 6), 0);

  it('keeps a name that fits', () => {
    expect(fitMiddle('iris', 100, measure)).toBe('iris');
  });

  it('cuts the middle to the widest text that fits, the end kept', () => {
    const name = 'sm-train-2026-12-01-08-31-07-123';
    const fitted = fitMiddle(name, 150, measure);
    expect(measure(fitted)).toBeLessThanOrEqual(150);
    expect(fitted).toContain('…');
    expect(fitted.endsWith('7-123')).toBe(true);
    expect(fitted.startsWith('sm-')).toBe(true);
    // One more character would not fit.
    const longer = middleEllipsis(name, fitted.length + 1);
    expect(measure(longer)).toBeGreaterThan(150);
  });

  it('never goes below five characters (CSS cuts what still overflows)', () => {
    expect(fitMiddle('sm-train-2026-12-01-08-31-07-123', 3, measure)).toHaveLength(5);
  });
});

describe('registry labels', () => {
  it('says Pending for PendingManualApproval and keeps the others', () => {
    expect(approvalLabel('PendingManualApproval')).toBe('Pending');
    expect(approvalLabel('Approved')).toBe('Approved');
  });

  it('shows metrics in four significant digits', () => {
    expect(formatMetric(0.973125)).toBe('0.9731');
    expect(formatMetric(12)).toBe('12');
    expect(formatMetric(null)).toBe('-');
  });
});
