import { YAMLError } from 'yaml';

/**
 * A YAML syntax error in our own words: its kind and position only. The yaml library's message
 * quotes the offending source line, which could be a secret pasted into the config by mistake.
 */
export function yamlErrorText(err: unknown): string {
  if (!(err instanceof YAMLError)) return 'unreadable YAML';
  const pos = err.linePos?.[0];
  const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
  return `${err.code.toLowerCase().replace(/_/g, ' ')}${where}`;
}
