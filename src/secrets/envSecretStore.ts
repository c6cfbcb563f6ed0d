import { readFileSync } from 'node:fs';
import { SecretMissingError, type SecretStore } from './secretStore';

/** `env:NAME` reads NAME, or the file named by NAME_FILE (the Docker/Kubernetes secrets convention). */
export class EnvSecretStore implements SecretStore {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async get(name: string): Promise<string> {
    const own = (key: string) => (Object.hasOwn(this.env, key) ? this.env[key] : undefined);
    const direct = own(name);
    if (direct) return direct;
    const file = own(`${name}_FILE`);
    if (file) {
      try {
        const value = readFileSync(file, 'utf8').trim();
        if (value) return value;
      } catch (err) {
        throw new SecretMissingError(`secret "env:${name}": cannot read ${name}_FILE (${(err as NodeJS.ErrnoException).code})`);
      }
    }
    throw new SecretMissingError(`secret "env:${name}" is not set (set ${name} or ${name}_FILE)`);
  }
}
