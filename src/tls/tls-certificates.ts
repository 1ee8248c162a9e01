import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, unwatchFile, watchFile } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Logger as PinoLogger } from 'pino';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  reloadIntervalMs: number;
}

/** A certificate and its key, read and checked together. */
export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  fingerprint256: string;
  subject: string;
  validTo: string;
}

/** The pair cannot be served (unreadable file, not PEM, key of another certificate); the message names the file. */
export class TlsPairError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsPairError';
  }
}

/**
 * Reads TLS_CERT_FILE and TLS_KEY_FILE and checks that they make a pair Node can serve (the key matches the
 * certificate). Messages name the setting and OpenSSL's reason, never the files' content.
 */
export function loadTlsPair(files: Pick<TlsFiles, 'certFile' | 'keyFile'>): TlsPair {
  const cert = readPem('TLS_CERT_FILE', files.certFile);
  const key = readPem('TLS_KEY_FILE', files.keyFile);
  let leaf: X509Certificate;
  try {
    // The first certificate of the file is the server's; the rest, if any, is its chain.
    leaf = new X509Certificate(cert);
  } catch {
    throw new TlsPairError(`TLS_CERT_FILE (${files.certFile}) does not hold a PEM certificate`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^error:[0-9A-F]+:/, '') : 'unknown error';
    throw new TlsPairError(
      `TLS_KEY_FILE (${files.keyFile}) is not the key of TLS_CERT_FILE (${files.certFile}), or not a usable ` +
        `private key: ${reason}`,
    );
  }
  return {
    cert,
    key,
    fingerprint256: leaf.fingerprint256,
    subject: leaf.subject.replace(/\n/g, ', '),
    validTo: new Date(leaf.validTo).toISOString(),
  };
}

function readPem(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new TlsPairError(`${setting} (${file}) cannot be read (${code})`);
  }
}

/** The part of an HTTPS server this needs (tls.Server and https.Server have it). */
export interface SecureContextTarget {
  setSecureContext(options: { cert: Buffer; key: Buffer }): void;
}

/**
 * Serves a renewed certificate without a restart: both files' modification times are polled (`fs.watchFile`, which
 * also sees a file replaced by a rename, as certbot and most renewal tools do), and after a change settles the pair
 * is loaded again and handed to the server with `setSecureContext`. New connections get the new certificate;
 * established ones keep theirs. A pair that does not load (a renewal caught half-way, a wrong key) is logged and the
 * previous one kept; the next change tries again.
 */
export class TlsReloader {
  private timer?: NodeJS.Timeout;
  private readonly onChange = () => this.schedule();
  private lastSeen: string;

  constructor(
    private readonly server: SecureContextTarget,
    private readonly files: TlsFiles,
    private readonly logger: PinoLogger,
    private current: TlsPair,
  ) {
    this.lastSeen = this.stamp();
  }

  start(): void {
    watchFile(this.files.certFile, { interval: this.files.reloadIntervalMs, persistent: false }, this.onChange);
    watchFile(this.files.keyFile, { interval: this.files.reloadIntervalMs, persistent: false }, this.onChange);
  }

  stop(): void {
    unwatchFile(this.files.certFile, this.onChange);
    unwatchFile(this.files.keyFile, this.onChange);
    clearTimeout(this.timer);
  }

  get fingerprint256(): string {
    return this.current.fingerprint256;
  }

  /** Loads the pair again now; false (and the previous pair kept) when it does not load. */
  reload(): boolean {
    let pair: TlsPair;
    try {
      pair = loadTlsPair(this.files);
    } catch (error) {
      this.logger.error({
        msg: 'TLS certificate files changed but do not make a usable pair; still serving the previous certificate',
        reason: error instanceof Error ? error.message : String(error),
        servingFingerprint256: this.current.fingerprint256,
      });
      return false;
    }
    if (pair.fingerprint256 === this.current.fingerprint256 && pair.key.equals(this.current.key)) return true;
    this.server.setSecureContext({ cert: pair.cert, key: pair.key });
    this.current = pair;
    this.logger.info({
      msg: 'TLS certificate reloaded',
      fingerprint256: pair.fingerprint256,
      subject: pair.subject,
      validTo: pair.validTo,
    });
    return true;
  }

  /** Both files are usually written one after the other: wait until neither changed for a moment. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        const stamp = this.stamp();
        if (stamp === this.lastSeen) return;
        this.lastSeen = stamp;
        this.reload();
      },
      Math.min(1000, this.files.reloadIntervalMs),
    );
    this.timer.unref();
  }

  private stamp(): string {
    return [this.files.certFile, this.files.keyFile]
      .map((file) => {
        try {
          const stat = statSync(file);
          return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  }
}
