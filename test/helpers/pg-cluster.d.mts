export interface Cluster {
  /** A URL for `database` on the cluster (as the superuser, no password: trust on loopback). */
  url(database: string): string;
  stop(): void;
}
/** The newest /usr/lib/postgresql/<version>/bin with an initdb, if any. */
export function postgresBinaries(): string | undefined;
export function startCluster(bin: string): Promise<Cluster>;
