// Text from the evidence (file names, hosts, users, titles) on its way to a terminal summary.

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/**
 * Control characters shown as \xNN: terminal escape sequences among them, and line breaks, which in a
 * file or host name would start a summary line of the attacker's own (a forged `unreadable:` line).
 * For one line at a time.
 */
export function terminalSafe(s: string): string {
  return s.replace(CONTROL, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}
