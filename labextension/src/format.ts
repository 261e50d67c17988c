/**
 * Money, durations and status colours, formatted as the kernel side formats them
 * (sm_magics/pricing.py format_usd, durations.py format_duration, display.py STATUS_COLOURS).
 */

/** Status -> CSS colour: JupyterLab theme variables, so light and dark themes both fit. */
export const STATUS_COLOURS: { [status: string]: string } = {
  InProgress: 'var(--jp-brand-color1)',
  Creating: 'var(--jp-brand-color1)',
  Updating: 'var(--jp-brand-color1)',
  InService: 'var(--jp-success-color1)',
  Deleting: 'var(--jp-warn-color1)',
  Deleted: 'var(--jp-ui-font-color2)',
  Stopping: 'var(--jp-warn-color1)',
  Completed: 'var(--jp-success-color1)',
  Failed: 'var(--jp-error-color1)',
  Stopped: 'var(--jp-ui-font-color2)',
  Approved: 'var(--jp-success-color1)',
  PendingManualApproval: 'var(--jp-warn-color1)',
  Rejected: 'var(--jp-error-color1)'
};

/** A registry status as the panel says it: `Pending` for `PendingManualApproval`. */
export function approvalLabel(status: string): string {
  return status === 'PendingManualApproval' ? 'Pending' : status;
}

/** A metric value in four significant digits (`0.9731`, `1.234e-05`), as lineage shows. */
export function formatMetric(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '-';
  }
  return String(Number(value.toPrecision(4)));
}

export function statusColour(status: string): string {
  return STATUS_COLOURS[status] ?? 'var(--jp-ui-font-color1)';
}

/** `$0.0012`, `$1.23`, `$1,234.56`; `n/a` for null (as pricing.format_usd). */
export function formatUsd(amount: number | null | undefined): string {
  if (amount === null || amount === undefined || !Number.isFinite(amount)) {
    return 'n/a';
  }
  const size = Math.abs(amount);
  let decimals = 2;
  if (size > 0 && size < 0.1) {
    // Two significant digits, so a few seconds on a small instance is not "$0.00".
    decimals = Math.min(10, Math.max(2, 1 - Math.floor(Math.log10(size))));
  }
  let text = size.toLocaleString('en-US', {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals
  });
  if (decimals > 2) {
    const [whole, fraction] = text.split('.');
    text = `${whole}.${fraction.replace(/0+$/, '').padEnd(2, '0')}`;
  }
  const sign = amount < 0 && Number(text.replace(/,/g, '')) !== 0 ? '-' : '';
  return `${sign}$${text}`;
}

/** `42s`, `3m 05s`, `2h 03m`; `-` for null. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) {
    return '-';
  }
  const total = Math.floor(Math.max(0, seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (hours) {
    return `${hours}h ${pad(minutes)}m`;
  }
  if (minutes) {
    return `${minutes}m ${pad(secs)}s`;
  }
  return `${secs}s`;
}

/** `ml.m5.large` or `ml.m5.large ×2` (as display.format_instance); `-` when unknown. */
export function formatInstance(
  type: string | null | undefined,
  count: number | null | undefined
): string {
  if (!type) {
    return '-';
  }
  return count && count > 1 ? `${type} ×${count}` : type;
}

/** `HH:MM:SS` of a timestamp in milliseconds, local time. */
export function formatClock(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** `1 job`, `2 jobs`: a count with its noun, plural when it is not 1. */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

/**
 * Shorten `text` to about `max` characters by cutting its middle, so both the prefix and
 * the end of a generated name (`sm-train-2026-12-01-…-08-31-07-123`) stay readable: the
 * end is usually what tells two jobs apart.
 */
export function middleEllipsis(text: string, max: number): string {
  if (text.length <= max || max < 5) {
    return text;
  }
  const tail = Math.ceil((max - 1) * 0.55);
  const head = max - 1 - tail;
  return `${text.slice(0, head)}…${text.slice(text.length - tail)}`;
}

/**
 * `text`, or its middle cut with "…" (as `middleEllipsis`), keeping as many characters as
 * fit in `width` by `measure` (pixels). Never shorter than 5 characters: below that a
 * name tells nothing, and CSS cuts what still overflows.
 */
export function fitMiddle(text: string, width: number, measure: (text: string) => number): string {
  if (measure(text) <= width) {
    return text;
  }
  let low = 5; // fits (or the least we show)
  let high = text.length - 1; // the longest cut that may fit
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (measure(middleEllipsis(text, middle)) <= width) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  return middleEllipsis(text, low);
}

/** Matches the line of a Python traceback that names the exception. */
const EXCEPTION_LINE = /^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Failure)|[A-Z]\w*Error)\b.*$/;

/**
 * The one line of a failure reason worth a notification: the exception (`ValueError: …`)
 * rather than SageMaker's wrapper (`AlgorithmError: ExecuteUserScriptError: … Command
 * "python train.py", exit code: 1`), whose `ErrorMessage "…"` holds the script's own error.
 */
export function failureSummary(reason: string | null | undefined, max = 200): string {
  if (!reason) {
    return '';
  }
  let text = reason.trim();
  const quoted = /ErrorMessage "([\s\S]*?)"\s*(\n|Command|$)/.exec(text);
  if (quoted && quoted[1].trim()) {
    text = quoted[1].trim();
  }
  const lines = text
    .split('\n')
    .map(line => line.trim())
    .filter(line => line && !/^(ExitCode \d+|Command ".*", exit code: -?\d+)$/.test(line));
  let line = '';
  for (let i = lines.length - 1; i >= 0 && !line; i--) {
    if (EXCEPTION_LINE.test(lines[i])) {
      line = lines[i];
    }
  }
  if (!line) {
    line = lines.length ? lines[lines.length - 1] : text;
  }
  line = line.replace(/^AlgorithmError:\s*(ExecuteUserScriptError:\s*)?/, '');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * The text a terminal would show for `message`: each `\r` moves back to the start of the
 * line, so a tqdm bar that redraws itself is its latest state (sm_magics/display.py
 * collapse_carriage_returns does the same for the widget and %sm_logs).
 */
export function collapseCarriageReturns(message: string): string {
  if (!message.includes('\r')) {
    return message;
  }
  const parts = message.replace(/\r+$/, '').split('\r');
  let line = '';
  for (const part of parts) {
    line = part + line.slice(part.length);
  }
  return line;
}

/** `in 1h 59m` until a deadline in epoch seconds, `due` once it passed; `` for none. */
export function formatTtl(ttlAt: number | null | undefined, now: number): string {
  if (ttlAt === null || ttlAt === undefined) {
    return '';
  }
  const left = ttlAt - now;
  return left > 0 ? `deletes itself in ${formatDuration(left)}` : 'TTL due, deleting';
}
