import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * Webhook signing secrets at rest: AES-256-GCM with a random 12-byte IV per value, stored as
 * `v1:<iv>:<tag>:<ciphertext>` (each base64). The version prefix leaves room for another scheme
 * (or key) later; the tag makes a wrong key or an altered value an error instead of garbage.
 */

const VERSION = "v1";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretBoxError";
  }
}

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new SecretBoxError(`the webhook secrets key must be ${KEY_BYTES} bytes, not ${key.length} (WEBHOOK_SECRETS_KEY is base64 of 32 bytes)`);
    this.#key = Buffer.from(key);
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [VERSION, iv.toString("base64"), cipher.getAuthTag().toString("base64"), ciphertext.toString("base64")].join(":");
  }

  decrypt(stored: string): string {
    const [version, iv, tag, ciphertext, ...rest] = stored.split(":");
    if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined || rest.length > 0) {
      throw new SecretBoxError(`a stored webhook secret is not in the ${VERSION} format`);
    }
    const ivBytes = Buffer.from(iv, "base64");
    const tagBytes = Buffer.from(tag, "base64");
    if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw new SecretBoxError(`a stored webhook secret is not in the ${VERSION} format`);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, ivBytes);
    decipher.setAuthTag(tagBytes);
    try {
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64")), decipher.final()]).toString("utf8");
    } catch {
      throw new SecretBoxError("a stored webhook secret does not decrypt with this key: WEBHOOK_SECRETS_KEY (or the key file) differs from the one it was stored with");
    }
  }
}
