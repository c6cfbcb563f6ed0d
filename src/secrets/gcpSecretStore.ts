import { SecretMissingError, SecretStoreError, type SecretStore } from './secretStore';

/**
 * The two calls of Google's SecretManagerServiceClient we use. Tests inject a fake with the same
 * shape; production builds the official client lazily (first use), so processes that never touch a
 * `gcp:` reference never load it or look for Google credentials.
 */
export interface GcpSecretManagerLike {
  accessSecretVersion(request: { name: string }): Promise<[{ payload?: { data?: Uint8Array | string | null } | null }, ...unknown[]]>;
  addSecretVersion(request: { parent: string; payload: { data: Buffer } }): Promise<[{ name?: string | null }, ...unknown[]]>;
}

const SECRET_NAME = /^projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/secrets\/[A-Za-z0-9_-]{1,255}(\/versions\/(latest|[1-9][0-9]*))?$/;

/** gRPC status codes we tell apart (from @grpc/grpc-js `status`). */
const GRPC_NOT_FOUND = 5;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;

/**
 * `gcp:projects/P/secrets/S[/versions/V]` in Google Secret Manager. Reads the latest version on
 * every `get` (so a new version — a rotated activation code — applies at the next login); `set`
 * adds a version to an existing secret. Errors name the secret and the cause, never the value.
 */
export class GcpSecretStore implements SecretStore {
  private client: GcpSecretManagerLike | null;

  constructor(client?: GcpSecretManagerLike) {
    this.client = client ?? null;
  }

  private api(): GcpSecretManagerLike {
    if (!this.client) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { SecretManagerServiceClient } = require('@google-cloud/secret-manager') as typeof import('@google-cloud/secret-manager');
      this.client = new SecretManagerServiceClient() as unknown as GcpSecretManagerLike;
    }
    return this.client;
  }

  static parse(name: string): { secret: string; version: string } {
    if (!SECRET_NAME.test(name)) {
      throw new SecretStoreError(`secret reference "gcp:${name}" must look like gcp:projects/<project>/secrets/<secret>[/versions/<n>]`);
    }
    const m = /^(projects\/[^/]+\/secrets\/[^/]+)(?:\/versions\/([^/]+))?$/.exec(name)!;
    return { secret: m[1]!, version: m[2] ?? 'latest' };
  }

  async get(name: string): Promise<string> {
    const { secret, version } = GcpSecretStore.parse(name);
    let response: Awaited<ReturnType<GcpSecretManagerLike['accessSecretVersion']>>;
    try {
      response = await this.api().accessSecretVersion({ name: `${secret}/versions/${version}` });
    } catch (err) {
      throw this.failure('read', name, err);
    }
    const data = response[0]?.payload?.data;
    const value = typeof data === 'string' ? data : data ? Buffer.from(data).toString('utf8') : '';
    if (value.trim() === '') throw new SecretMissingError(`secret "gcp:${name}" has an empty payload`);
    return value.trim();
  }

  /** Adds a new version (the secret itself must exist: `gcloud secrets create S`). */
  async set(name: string, value: string): Promise<void> {
    const { secret } = GcpSecretStore.parse(name);
    try {
      await this.api().addSecretVersion({ parent: secret, payload: { data: Buffer.from(value, 'utf8') } });
    } catch (err) {
      throw this.failure('write', name, err);
    }
  }

  private failure(op: 'read' | 'write', name: string, err: unknown): Error {
    const code = typeof (err as { code?: unknown })?.code === 'number' ? (err as { code: number }).code : null;
    const ref = `gcp:${name}`;
    if (code === GRPC_NOT_FOUND) {
      return new SecretMissingError(`secret "${ref}" does not exist in Secret Manager (create it: gcloud secrets create ${GcpSecretStore.parse(name).secret.split('/')[3]} --project ${name.split('/')[1]})`);
    }
    if (code === GRPC_PERMISSION_DENIED || code === GRPC_UNAUTHENTICATED) {
      return new SecretStoreError(
        `cannot ${op} secret "${ref}": permission denied — grant the worker's service account roles/secretmanager.${op === 'read' ? 'secretAccessor' : 'secretVersionAdder'}`,
      );
    }
    // Google's messages describe the call, not the payload; still keep only our words and the code.
    return new SecretStoreError(`cannot ${op} secret "${ref}" in Google Secret Manager (${code === null ? 'no status code' : `gRPC status ${code}`}); check network access and credentials (GOOGLE_APPLICATION_CREDENTIALS)`);
  }
}
