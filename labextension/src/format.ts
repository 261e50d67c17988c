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
  Stopped: 'var(--jp-ui-font-color2)'
};

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

/** `ml.m5.large` or `ml.m5.large ×2`; `-` when unknown. */
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
