/** Where secrets come from. Implementations resolve a reference's name; they never log values. */
export interface SecretStore {
  /** Returns the secret or throws SecretMissingError naming the reference (never the value). */
  get(name: string): Promise<string>;
}

export class SecretMissingError extends Error {
  override name = 'SecretMissingError';
}

export class SecretStoreError extends Error {
  override name = 'SecretStoreError';
}
